#!/bin/sh
# École — nginx's entrypoint (the official image's and the stand-in's alike, POSIX sh):
# 1. renders /etc/nginx/ecole/templates/*.template into /etc/nginx/conf.d/ with the
#    environment (${SERVER_NAME}…), as the official image's templates mechanism does;
# 2. reloads nginx within a minute whenever the certificate changes (certbot renewal,
#    `make certs`), so a renewed certificate is served without a restart;
# 3. runs nginx in the foreground (init: true in compose forwards the stop signal).
set -eu
: "${SERVER_NAME:=_}"
mkdir -p /etc/nginx/conf.d
for template in /etc/nginx/ecole/templates/*.template; do
  [ -f "$template" ] || continue
  out=/etc/nginx/conf.d/$(basename "$template" .template)
  # Only ${SERVER_NAME}: nginx's own $variables stay as they are.
  sed "s|\${SERVER_NAME}|$SERVER_NAME|g" "$template" >"$out"
done

cert=/etc/nginx/certs/fullchain.pem
[ -f "$cert" ] || { echo "certificat absent : $cert (make certs-dev ou make certs)" >&2; exit 1; }
(
  last=$(cksum "$cert" 2>/dev/null || true)
  while sleep "${CERT_WATCH_SECONDS:-60}"; do
    now=$(cksum "$cert" 2>/dev/null || true)
    if [ -n "$now" ] && [ "$now" != "$last" ]; then
      echo "certificat changé : rechargement de nginx" >&2
      nginx -t -q && nginx -s reload && last=$now
    fi
  done
) &
exec nginx -g 'daemon off;'
