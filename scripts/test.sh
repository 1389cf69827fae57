#!/usr/bin/env bash
# `make test`: starts what the tests need, then runs the whole suite.
#   TEST_DATABASE_URL  use this PostgreSQL server instead of a throwaway tmpfs cluster
#   TEST_REDIS_URL     Redis server (default redis://127.0.0.1:6379/0)
#   SKIP_FUZZ=1        leave out the short schemathesis run that follows the tests
#   DEPLOY_E2E=1       also run `make e2e-deploy` (Docker, ≈ 15 min)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_cargo
ensure_poppler
ensure_redis
ensure_nginx              # deploy/nginx/nginx.conf: nginx -t and a loopback instance
ensure_compose_validator  # deploy/docker-compose.yml: schema check without an engine
ensure_moto               # local fake S3 for the backup tests
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  ensure_postgres   # installs the PostgreSQL binaries when missing
  if start_ephemeral_postgres; then
    trap stop_ephemeral_postgres EXIT
    export TEST_DATABASE_URL=$EPHEMERAL_PG_URL
    say "PostgreSQL jetable (tmpfs, fsync=off) : $TEST_DATABASE_URL"
  else
    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    warn "pas de cluster jetable : tests sur $TEST_DATABASE_URL"
  fi
fi

ensure_pg_tools   # after the server: pg_dump/pg_restore of the same version

cargo build --bins -q   # black-box tests start the real binaries
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --profile "${NEXTEST_PROFILE:-default}" "$@"
else
  warn "cargo-nextest absent : cargo test"
  cargo test --workspace "$@"
fi
if [ -z "${SKIP_FUZZ:-}" ] && [ "$#" -eq 0 ]; then
  say "fuzzing court de l'API (schemathesis, chaque rôle) ; make fuzz pour le long"
  bash scripts/fuzz.sh --court
fi
if [ -n "${DEPLOY_E2E:-}" ] && [ "$#" -eq 0 ]; then
  say "chemin de production de bout en bout (make e2e-deploy)"
  bash scripts/e2e-deploy.sh
fi
