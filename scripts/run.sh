#!/usr/bin/env bash
# `make run`: set up everything on a Debian/Ubuntu box, then run École (API, worker, beat)
# in the foreground.
# Ctrl-C stops every process this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/env.sh

ensure_cargo
ensure_postgres
ensure_redis

# A fresh Debian PostgreSQL asks a password over TCP: give the project a role of its own.
server_url="${DATABASE_URL%/*}/postgres"
if ! psql "$server_url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  if is_root && [ "${DATABASE_URL}" = "postgres://postgres@127.0.0.1:5432/ecole" ]; then
    say "création du rôle PostgreSQL « ecole » (connexion TCP par mot de passe)"
    runuser -u postgres -- psql -qc "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecole') THEN CREATE ROLE ecole LOGIN CREATEDB PASSWORD 'ecole'; END IF; END \$\$;" >/dev/null
    export DATABASE_URL=postgres://ecole:ecole@127.0.0.1:5432/ecole
    warn "DATABASE_URL=$DATABASE_URL (ajoutez-la à .env pour les autres commandes)"
  else
    die "connexion à PostgreSQL impossible avec DATABASE_URL=$DATABASE_URL"
  fi
fi

say "compilation (release) des quatre programmes lancés"
cargo build --release $ECOLE_BINS

say "base de données : migrations et compte de démonstration"
./target/release/ecole bootstrap

pids=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    say "arrêt"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

./target/release/ecole-api &
pids+=($!)
./target/release/ecole-worker &
pids+=($!)
./target/release/ecole-beat &
pids+=($!)
say "API : http://${HTTP_BIND:-127.0.0.1:8000}/api/v1/ — documentation : http://${HTTP_BIND:-127.0.0.1:8000}/api/v1/docs/"
say "Ctrl-C pour tout arrêter"
wait -n "${pids[@]}" || true
