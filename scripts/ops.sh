#!/usr/bin/env bash
# Operator commands of the Makefile: migrate, createsuperuser, backup, restore, check-deploy, seed.
#   scripts/ops.sh migrate
#   scripts/ops.sh createsuperuser
#   scripts/ops.sh backup
#   scripts/ops.sh restore FICHIER [--force]
#   scripts/ops.sh check-deploy
#   scripts/ops.sh seed [N]
# With DOCKER=1, or when deploy/.env exists (the stack `make up` runs), they run inside the
# deploy/docker-compose.yml stack; with DOCKER=0, or on a development machine without
# deploy/.env, they run `ecole` on this machine (release build, settings from .env).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

action=${1:-}
shift || true

# Docker when asked (DOCKER=1), or when the stack's settings exist (deploy/.env, or
# ECOLE_ENV_FILE) and DOCKER=0 does not say otherwise.
docker_mode() {
  case "${DOCKER:-}" in
    1 | oui | true) return 0 ;;
    0 | non | false) return 1 ;;
  esac
  [ -n "${ECOLE_ENV_FILE:-}" ] || [ -f deploy/.env ]
}

if docker_mode; then
  compose() { bash scripts/compose.sh "$@"; }
  case "$action" in
    migrate) compose run --rm migrate ecole migrate ;;
    createsuperuser)
      # Interactive on a terminal; else ECOLE_SUPERUSER_USERNAME, _EMAIL, _PASSWORD.
      envs=()
      for v in ECOLE_SUPERUSER_USERNAME ECOLE_SUPERUSER_EMAIL ECOLE_SUPERUSER_PASSWORD; do
        [ -n "${!v:-}" ] && envs+=(-e "$v")
      done
      tty=()
      [ -t 0 ] || tty=(-T)
      compose exec "${tty[@]}" "${envs[@]}" api ecole createsuperuser "$@"
      ;;
    backup) compose exec -T worker ecole backup ;;
    check-deploy) compose exec -T api ecole check --deploy ;;
    seed) compose exec -T api ecole seed --eleves "${1:-300}" --quiet ;;
    restore)
      file=${1:?FILE manquant : make restore FILE=ecole_AAAAmmjj_HHMMSS.dump}
      shift
      mounts=()
      target="/var/lib/ecole/backups/$(basename "$file")"
      if [ -f "$file" ]; then
        # A copy on this machine: mounted read-only with its checksum.
        [ -f "$file.sha256" ] || die "$file.sha256 absent : la somme de contrôle accompagne chaque sauvegarde"
        target=/tmp/restauration/$(basename "$file")
        src=$file
        # Backups are 0600: a copy the image's user (uid 10001) cannot read (`docker cp` made
        # it root's) is staged readable in a private folder of this machine, removed after.
        if [ "$(stat -c %u "$file")" != 10001 ] && [ -z "$(find "$file" -maxdepth 0 -perm -o=r)" ]; then
          stage=$(mktemp -d)
          trap 'rm -rf "$stage"' EXIT
          cp "$file" "$file.sha256" "$stage/"
          src=$stage/$(basename "$file")
          chmod 0644 "$src" "$src.sha256"
        fi
        mounts=(-v "$(realpath "$src"):$target:ro" -v "$(realpath "$src.sha256"):$target.sha256:ro")
      fi
      say "arrêt de l'API, des workers, du planificateur et de nginx pendant la restauration"
      compose compose stop api worker beat nginx
      compose run --rm --no-deps "${mounts[@]}" migrate ecole restore "$target" "$@"
      say "redémarrage"
      NO_BUILD=1 compose up
      ;;
    *) die "action inconnue : $action" ;;
  esac
  exit 0
fi

. scripts/env.sh
ensure_cargo
if [ -z "${PG_DUMP:-}" ] && [ -n "$(pg_bindir || true)" ]; then
  export PG_DUMP="$(pg_bindir)/pg_dump" PG_RESTORE="$(pg_bindir)/pg_restore"
fi
run() { cargo run -q --release --bin ecole -- "$@"; }
case "$action" in
  migrate) run migrate ;;
  createsuperuser) run createsuperuser "$@" ;;
  backup) run backup ;;
  check-deploy) run check --deploy ;;
  seed) run seed --eleves "${1:-300}" ;;
  restore)
    file=${1:?FILE manquant : make restore FILE=var/backups/ecole_AAAAmmjj_HHMMSS.dump}
    shift
    run restore "$file" "$@"
    ;;
  *) die "action inconnue : $action (backup, restore, check-deploy, seed)" ;;
esac
