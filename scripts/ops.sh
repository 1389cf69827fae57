#!/usr/bin/env bash
# Operator commands of the Makefile: backup, restore, check-deploy, seed.
#   scripts/ops.sh backup
#   scripts/ops.sh restore FICHIER [--force]
#   scripts/ops.sh check-deploy
#   scripts/ops.sh seed [N]
# By default they run `ecole` on this machine (release build, settings from .env). With
# DOCKER=1 they run inside the deploy/docker-compose.yml stack instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

action=${1:-}
shift || true

if [ -n "${DOCKER:-}" ]; then
  compose() { bash scripts/compose.sh "$@"; }
  case "$action" in
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
        mounts=(-v "$(realpath "$file"):$target:ro" -v "$(realpath "$file.sha256"):$target.sha256:ro")
      fi
      say "arrêt de l'API, des workers et du planificateur pendant la restauration"
      compose stop api worker beat nginx
      compose run --rm --no-deps "${mounts[@]}" migrate ecole restore "$target" "$@"
      say "redémarrage"
      compose up -d
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
