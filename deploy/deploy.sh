#!/usr/bin/env bash
# École — déploiement sur le serveur (les étapes du §9.3 d'origine, avec attente de santé
# et retour arrière) :
#   deploy/deploy.sh            git pull, construction, sauvegarde, migrations, redémarrage
#   deploy/deploy.sh --no-pull  sans git pull (code déjà à jour)
# Prérequis : Docker avec le plugin compose (ou docker-compose), deploy/.env rempli
# (cp deploy/.env.example deploy/.env), certificats dans deploy/nginx/certs/.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mERREUR\033[0m %s\n' "$*" >&2; exit 1; }

if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose -p ecole -f docker-compose.yml)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose -p ecole -f docker-compose.yml)
else
  die "ni « docker compose » ni « docker-compose » : installez le plugin compose de Docker"
fi
[ -f .env ] || die "deploy/.env absent : cp deploy/.env.example deploy/.env, puis remplissez-le"
if grep -q "à remplir" .env; then
  die "deploy/.env contient encore des valeurs « à remplir »"
fi
[ -f nginx/certs/fullchain.pem ] && [ -f nginx/certs/privkey.pem ] \
  || die "certificats absents : deploy/nginx/certs/fullchain.pem et privkey.pem"

pull=1
[ "${1:-}" = "--no-pull" ] && pull=0

# The image running now: the way back if this deployment goes wrong.
previous=""
api_id=$("${COMPOSE[@]}" ps -q api 2>/dev/null || true)
if [ -n "$api_id" ]; then
  previous=$(docker inspect --format '{{.Config.Image}}' "$api_id" 2>/dev/null || true)
fi
rollback_hint() {
  echo
  echo "Retour arrière :"
  if [ -n "$previous" ]; then
    echo "  cd deploy && ECOLE_IMAGE=$previous ${COMPOSE[*]} up -d"
  fi
  echo "  données : make restore FILE=<sauvegarde faite avant ce déploiement> (voir make backup)"
}
trap 'status=$?; if [ $status -ne 0 ]; then echo "Déploiement interrompu (code $status)." >&2; rollback_hint; fi' EXIT

# 1. Latest code.
if [ "$pull" = 1 ]; then
  say "1. git pull"
  git pull --ff-only
fi
version=$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)
export ECOLE_IMAGE="ecole:$version"

# 2. Build the image (dependencies come from BuildKit's cache).
say "2. construction de l'image $ECOLE_IMAGE"
DOCKER_BUILDKIT=1 "${COMPOSE[@]}" build api
docker tag "$ECOLE_IMAGE" ecole:latest

# 3. A backup before any migration (when the database already runs).
if [ -n "$("${COMPOSE[@]}" ps -q postgres 2>/dev/null || true)" ]; then
  say "3. sauvegarde avant déploiement"
  "${COMPOSE[@]}" run --rm --no-deps migrate ecole backup
else
  say "3. première installation : pas de sauvegarde préalable"
fi

# 4. Start: postgres and redis, then the one-shot migration, then api, workers, beat, nginx.
say "4. migrations et redémarrage des services"
"${COMPOSE[@]}" up -d --remove-orphans

# 5. Wait until the API says PostgreSQL and Redis are reachable.
say "5. attente de la santé de l'API (/health/ready)"
api_id=$("${COMPOSE[@]}" ps -q api)
for _ in $(seq 1 60); do
  health=$(docker inspect --format '{{.State.Health.Status}}' "$api_id" 2>/dev/null || echo inconnu)
  [ "$health" = healthy ] && break
  sleep 2
done
[ "$health" = healthy ] || die "l'API n'est pas en bonne santé après 120 s (état : $health) : make logs"

# 6. The pre-production checklist, then the state of every service.
say "6. vérification (ecole check --deploy)"
"${COMPOSE[@]}" exec -T api ecole check --deploy || echo "(voir les lignes ERREUR ci-dessus)"
"${COMPOSE[@]}" ps
say "Déploiement de $ECOLE_IMAGE terminé."
