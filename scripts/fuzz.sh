#!/usr/bin/env bash
# `make fuzz` (long run) and the short run of `make test` (`scripts/fuzz.sh --court`):
# schemathesis (PyPI, installed here into target/venv-fuzz) against the real ecole-api on a
# loopback port, a seeded database of its own, authenticated as each role. See scripts/fuzz.py.
#   TEST_DATABASE_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   TEST_REDIS_URL     Redis server (default redis://127.0.0.1:6379/0)
#   FUZZ_MAX_EXAMPLES  cases per operation (3 with --court, 100 otherwise); FUZZ_SEED; FUZZ_ROLES
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SCHEMATHESIS_VERSION=4.32.5
VENV=target/venv-fuzz

ensure_cargo
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installation de schemathesis $SCHEMATHESIS_VERSION dans $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  ensure_postgres
  ensure_redis
fi
cargo build --bins -q
exec "$VENV/bin/python" scripts/fuzz.py "$@"
