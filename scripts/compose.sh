#!/usr/bin/env bash
# `make up|down|logs|ps`: docker compose on deploy/docker-compose.yml (project « ecole »),
# with the Docker plugin or Debian's docker-compose.
#   scripts/compose.sh up|down|logs|ps [arguments de compose…]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
else
  die "Docker Compose introuvable : installez Docker et son plugin compose (voir README, « Exploitation »)."
fi
COMPOSE+=(-p ecole -f deploy/docker-compose.yml)
[ -f deploy/.env ] || die "deploy/.env absent : cp deploy/.env.example deploy/.env, puis remplissez-le."

action=${1:-ps}
shift || true
case "$action" in
  up)
    [ -f deploy/nginx/certs/fullchain.pem ] && [ -f deploy/nginx/certs/privkey.pem ] \
      || die "certificats absents : deploy/nginx/certs/fullchain.pem et privkey.pem (voir README)"
    DOCKER_BUILDKIT=1 exec "${COMPOSE[@]}" up -d --build "$@" ;;
  down) exec "${COMPOSE[@]}" down "$@" ;;
  logs) exec "${COMPOSE[@]}" logs -f --tail=200 "$@" ;;
  ps) exec "${COMPOSE[@]}" ps "$@" ;;
  exec | run) exec "${COMPOSE[@]}" "$action" "$@" ;;
  *) die "action inconnue : $action (up, down, logs, ps)" ;;
esac
