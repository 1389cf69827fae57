#!/bin/sh
# École — certbot's deploy hook: copies the issued or renewed pair where nginx reads it
# (/etc/ecole-certs, nginx/certs/ on the host); the key first, the chain last, since nginx
# reloads when the chain changes.
set -eu
src=${RENEWED_LINEAGE:?RENEWED_LINEAGE absent : à lancer par certbot --deploy-hook}
dst=/etc/ecole-certs
umask 077
cp "$src/privkey.pem" "$dst/.privkey.pem.new"
cp "$src/fullchain.pem" "$dst/.fullchain.pem.new"
chmod 644 "$dst/.fullchain.pem.new"
mv "$dst/.privkey.pem.new" "$dst/privkey.pem"
mv "$dst/.fullchain.pem.new" "$dst/fullchain.pem"
echo "certificat installé : $dst/fullchain.pem ($(basename "$src"))"
