#!/usr/bin/env bash
# The Docker stack of deploy/docker-compose.yml, for the Makefile and deploy/deploy.sh:
#   scripts/compose.sh up|down|build|ps|logs|wait|certs-dev|certs|exec|run|compose [args…]
# Settings (environment):
#   ECOLE_ENV_FILE         the stack's settings (default deploy/.env)
#   COMPOSE_PROJECT_NAME   the project's name (default ecole)
#   ECOLE_COMPOSE_OVERRIDE more compose files, separated by « : » (tests: fake services)
#   ECOLE_IMAGE            the image tag to run (default: the one `up` built last, else ecole:latest)
# Works with Docker's compose plugin or Debian's docker-compose, and picks a docker client
# that can build with BuildKit (a newer client without buildx cannot).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"

REQUESTED_IMAGE=${ECOLE_IMAGE:-}
ENV_FILE=$(realpath -m "${ECOLE_ENV_FILE:-$ROOT/deploy/.env}")
export ECOLE_ENV_FILE=$ENV_FILE
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-ecole}
# The image tag `up` and deploy.sh ran last, beside the settings.
IMAGE_STATE="$(dirname "$ENV_FILE")/.image-${COMPOSE_PROJECT_NAME}"

# A value of the settings file (the last assignment wins, quotes removed).
env_value() {
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}

# A docker client that builds: Debian's /usr/bin/docker has BuildKit built in; a newer client
# first in PATH may lack the buildx plugin that DOCKER_BUILDKIT=1 then requires.
choose_docker() {
  if docker buildx version >/dev/null 2>&1 || ! [ -x /usr/bin/docker ]; then
    DOCKER=$(command -v docker || true)
  else
    DOCKER=/usr/bin/docker
    local shim="${TMPDIR:-/tmp}/ecole-docker-shim"
    mkdir -p "$shim" && ln -sf /usr/bin/docker "$shim/docker"
    export PATH="$shim:$PATH"   # docker-compose calls `docker build` through PATH
  fi
  [ -n "$DOCKER" ] || die "Docker introuvable : apt-get install docker.io docker-compose (voir README, « Exploitation »)."
  "$DOCKER" info >/dev/null 2>&1 || die "le démon Docker ne répond pas (systemctl start docker, ou dockerd en root)."
  export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
}

choose_compose() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
  else
    die "Docker Compose introuvable : apt-get install docker-compose, ou le plugin compose de Docker."
  fi
  COMPOSE+=(--env-file "$ENV_FILE" -p "$COMPOSE_PROJECT_NAME" -f "$ROOT/deploy/docker-compose.yml")
  local extra
  IFS=: read -r -a extra <<<"${ECOLE_COMPOSE_OVERRIDE:-}"
  for f in "${extra[@]}"; do
    [ -n "$f" ] && COMPOSE+=(-f "$f")
  done
}

require_env() {
  [ -f "$ENV_FILE" ] || die "$ENV_FILE absent : cp deploy/.env.example deploy/.env, puis remplissez-le (README, « Exploitation »)."
  if grep -qE '^[A-Z_0-9]+=à remplir' "$ENV_FILE"; then
    die "$ENV_FILE contient encore des valeurs « à remplir » : $(grep -oE '^[A-Z_0-9]+=à remplir' "$ENV_FILE" | cut -d= -f1 | tr '\n' ' ')"
  fi
}

current_image() {
  if [ -n "$REQUESTED_IMAGE" ]; then
    echo "$REQUESTED_IMAGE"
  elif [ -f "$IMAGE_STATE" ]; then
    cat "$IMAGE_STATE"
  else
    echo ecole:latest
  fi
}

certs_dir() {
  local dir
  dir=$(env_value CERTS_DIR)
  dir=${dir:-$ROOT/nginx/certs}
  # Relative paths are relative to deploy/, as in the compose file.
  case "$dir" in /*) ;; *) dir="$ROOT/deploy/$dir" ;; esac
  realpath -m "$dir"
}

# A self-signed pair for SERVER_NAME (trials; browsers warn). Never replaces a real one.
certs_dev() {
  local dir name force=${1:-}
  dir=$(certs_dir)
  name=$(env_value SERVER_NAME)
  name=${name:-localhost}
  if [ -f "$dir/fullchain.pem" ] && [ -z "$force" ]; then
    say "certificat déjà présent ($dir/fullchain.pem) : rien à faire"
    return 0
  fi
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name" \
    -keyout "$dir/.privkey.pem.new" -out "$dir/.fullchain.pem.new" 2>/dev/null \
    || die "openssl : certificat non créé"
  chmod 600 "$dir/.privkey.pem.new"
  chmod 644 "$dir/.fullchain.pem.new"
  mv "$dir/.privkey.pem.new" "$dir/privkey.pem"
  mv "$dir/.fullchain.pem.new" "$dir/fullchain.pem"
  say "certificat auto-signé pour $name (90 jours) : $dir (make certs DOMAIN=… EMAIL=… pour Let's Encrypt)"
}

build() {
  local tag version
  version=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)
  if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -v '^??' || true)" ]; then
    version="$version-modifie"
  fi
  tag=${REQUESTED_IMAGE:-ecole:$version}
  say "construction de l'image $tag" >&2   # stdout carries the tag only
  "$DOCKER" build -f "$ROOT/deploy/Dockerfile" -t "$tag" "$ROOT" >&2
  "$DOCKER" tag "$tag" ecole:latest
  echo "$tag"
}

# Waits until every container of the project that has a health check is healthy and none
# has exited with an error (the migration's exit 0 is expected). Default: 180 s.
wait_healthy() {
  local timeout=${1:-180} start=$SECONDS ids bad pending
  while :; do
    ids=$("${COMPOSE[@]}" ps -q 2>/dev/null || true)
    pending="" bad=""
    for id in $ids; do
      local line name state health code
      line=$("$DOCKER" inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}' "$id" 2>/dev/null || true)
      read -r name state health code <<<"$line"
      case "$state/$health" in
        running/healthy | running/-) ;;
        exited/-) [ "$code" = 0 ] || bad="$bad ${name#/}(code $code)" ;;
        running/unhealthy) bad="$bad ${name#/}(unhealthy)" ;;
        *) pending="$pending ${name#/}($state/$health)" ;;
      esac
    done
    if [ -z "$pending" ] && [ -z "$bad" ] && [ -n "$ids" ]; then
      say "tous les services sont en bonne santé ($((SECONDS - start)) s)"
      return 0
    fi
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      warn "services pas en bonne santé après ${timeout} s :$bad$pending"
      return 1
    fi
    sleep 2
  done
}

up() {
  require_env
  local dir image replicas
  dir=$(certs_dir)
  if ! [ -f "$dir/fullchain.pem" ] || ! [ -f "$dir/privkey.pem" ]; then
    warn "aucun certificat dans $dir : certificat auto-signé provisoire (puis make certs DOMAIN=… EMAIL=…)"
    certs_dev
  fi
  if [ -n "$REQUESTED_IMAGE" ] || [ -n "${NO_BUILD:-}" ]; then
    image=$(current_image)
  else
    image=$(build)
  fi
  export ECOLE_IMAGE=$image
  replicas=$(env_value WORKER_REPLICAS)
  replicas=${replicas:-1}
  [[ "$replicas" =~ ^[1-9][0-9]?$ ]] || die "WORKER_REPLICAS=$replicas : un nombre de 1 à 99"
  say "démarrage de $image ($replicas worker(s))"
  "${COMPOSE[@]}" up -d --no-build --remove-orphans --scale "worker=$replicas" "$@"
  echo "$image" >"$IMAGE_STATE"
  wait_healthy "${HEALTH_TIMEOUT:-180}"
}

# Let's Encrypt (or ACME_SERVER) through nginx's webroot; nginx must be running (make up).
certs() {
  require_env
  local domain=${DOMAIN:-$(env_value SERVER_NAME)} email=${EMAIL:-$(env_value CERTBOT_EMAIL)}
  local server
  server=$(env_value ACME_SERVER)
  [ -n "$domain" ] && [ "$domain" != _ ] || die "DOMAIN manquant : make certs DOMAIN=ecole.exemple.gn EMAIL=admin@exemple.gn"
  [ -n "$email" ] || die "EMAIL manquant : make certs DOMAIN=$domain EMAIL=admin@exemple.gn (avis d'expiration)"
  local args=(certonly --non-interactive --agree-tos --webroot -w /var/www/certbot
    -d "$domain" --email "$email" --deploy-hook /opt/ecole/installer.sh --keep-until-expiring)
  [ -n "$server" ] && args+=(--server "$server")
  local ca="Let's Encrypt"
  [ -n "$server" ] && ca=$server
  say "demande du certificat de $domain ($ca)"
  "${COMPOSE[@]}" run --rm --no-deps --entrypoint certbot certbot "${args[@]}"
  "${COMPOSE[@]}" exec -T nginx nginx -s reload
  say "certificat installé et nginx rechargé ; le service certbot le renouvelle deux fois par jour"
}

ROOT_ACTION=${1:-ps}
shift || true
case "$ROOT_ACTION" in
  certs-dev) certs_dev force; exit 0 ;;
esac
choose_docker
choose_compose
ECOLE_IMAGE=$(current_image)
export ECOLE_IMAGE
case "$ROOT_ACTION" in
  up) up "$@" ;;
  build) require_env; build ;;   # prints the tag
  down) "${COMPOSE[@]}" down "$@" ;;
  logs) "${COMPOSE[@]}" logs -f --tail=200 "$@" ;;
  ps) "${COMPOSE[@]}" ps "$@" ;;
  wait) wait_healthy "${1:-180}" ;;
  certs) certs ;;
  exec | run) "${COMPOSE[@]}" "$ROOT_ACTION" "$@" ;;
  compose) "${COMPOSE[@]}" "$@" ;;
  *) die "action inconnue : $ROOT_ACTION (up, down, build, ps, logs, wait, certs, certs-dev, exec, run)" ;;
esac
