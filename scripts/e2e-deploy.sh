#!/usr/bin/env bash
# `make e2e-deploy`: the production path for real on the local Docker daemon (image, compose
# stack under a throwaway project name, HTTPS through nginx, ACME by a local pebble, faults).
# Needs Docker; on a machine without a registry, the stand-in images of
# scripts/images-locales.sh (built here when missing). Last line: `N passed, N failed`.
#   E2E_GARDER=1  keep the work folder (settings, certificates, logs) even when all passes
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
command -v openssl >/dev/null || apt_install openssl
command -v python3 >/dev/null || apt_install python3
missing=0
for image in debian:bookworm-slim rust:1-slim-bookworm postgres:15-bookworm redis:7-bookworm \
  nginx:1.26-alpine certbot/certbot:v2.11.0 ecole-e2e/pebble:local ecole-e2e/faux:local; do
  docker image inspect "$image" >/dev/null 2>&1 || /usr/bin/docker image inspect "$image" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ]; then
  say "images manquantes : scripts/images-locales.sh"
  bash scripts/images-locales.sh
fi
exec python3 tests/e2e/e2e_deploy.py
