#!/usr/bin/env bash
# `make schema-check`: crates/db/src/schema.rs must be what `diesel print-schema` generates
# from the migrations, and every migration must go down and up again (`diesel migration redo`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_cargo
if ! command -v diesel >/dev/null && [ ! -x "$HOME/.cargo/bin/diesel" ]; then
  [ -f /usr/include/postgresql/libpq-fe.h ] || apt_install libpq-dev
  say "installation de diesel_cli (une fois)"
  cargo install diesel_cli --version '^2.3' --no-default-features --features postgres --locked >/dev/null 2>&1 \
    || die "installation de diesel_cli impossible"
fi
DIESEL=$(command -v diesel || echo "$HOME/.cargo/bin/diesel")

ensure_postgres
server=${TEST_DATABASE_URL:-}
if [ -z "$server" ]; then
  if start_ephemeral_postgres; then
    trap stop_ephemeral_postgres EXIT
    server=$EPHEMERAL_PG_URL
  else
    server=postgres://postgres@127.0.0.1:5432/postgres
  fi
fi
db="ecole_schema_check_$$"
url="${server%/*}/$db"
psql "$server" -qc "CREATE DATABASE $db" >/dev/null
cleanup_db() { psql "$server" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap 'cleanup_db; stop_ephemeral_postgres' EXIT

"$DIESEL" migration run --database-url "$url" >/dev/null
generated=$(mktemp)
"$DIESEL" print-schema --database-url "$url" >"$generated"
if ! diff -u crates/db/src/schema.rs "$generated"; then
  die "schema.rs ne correspond plus aux migrations : lancez \`diesel print-schema > crates/db/src/schema.rs\`"
fi
"$DIESEL" migration redo --all --database-url "$url" >/dev/null || die "une migration ne redescend pas proprement (down.sql)"
"$DIESEL" print-schema --database-url "$url" | diff -q - "$generated" >/dev/null \
  || die "après redo, le schéma diffère : un down.sql n'annule pas son up.sql"
rm -f "$generated"
say "schema.rs est à jour et chaque migration redescend proprement"
