#!/bin/sh
# École — the certbot service: `certbot renew` twice a day (CERTBOT_RENEW_INTERVAL), which
# renews only certificates within 30 days of expiry, through nginx's webroot; a renewal
# installs the new pair in /etc/ecole-certs (installer.sh), which nginx reloads.
#   renouveler.sh                 the service's loop
#   renouveler.sh --une-fois [options de certbot renew…]   one pass (e.g. --force-renewal)
set -u
once=0
if [ "${1:-}" = --une-fois ]; then once=1; shift; fi
trap 'exit 0' TERM INT
while :; do
  if [ -d /etc/letsencrypt/renewal ] && [ -n "$(ls /etc/letsencrypt/renewal 2>/dev/null)" ]; then
    certbot renew --non-interactive --webroot -w /var/www/certbot \
      --deploy-hook /opt/ecole/installer.sh "$@" \
      || { echo "renouvellement du certificat en échec" >&2; [ "$once" = 1 ] && exit 1; }
  elif [ "$once" = 1 ]; then
    echo "aucun certificat Let's Encrypt à renouveler : make certs DOMAIN=… EMAIL=…" >&2
    exit 1
  fi
  [ "$once" = 1 ] && exit 0
  sleep "${CERTBOT_RENEW_INTERVAL:-12h}" &
  wait $!
done
