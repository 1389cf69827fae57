#!/usr/bin/env bash
# Loads .env (when present) and sets the development defaults. Sourced, not run.
if [ -f .env ]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ecole}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
