#!/usr/bin/env bash
# `make soak`: endurance. Release build, a seeded database (ecole_soak), then `ecole-bench soak`
# starts 2 ecole-api, 2 ecole-worker, 1 ecole-beat and a private redis-server, sends a mixed
# load (80 % reads, 20 % writes that enqueue jobs) and samples RSS, Redis memory and latency
# every 30 s; last line: ENDURANCE RÉUSSIE / ÉCHOUÉE with the figures (exit code 1 on failure).
#   SOAK_MINUTES         duration (default 30)
#   SOAK_RATE            requests per second (default 50)
#   SOAK_WINDOW_SECONDS  sampling window (default 30)
#   SOAK_ELEVES          pupils of the seeded school (default 300)
#   SOAK_DATABASE_SERVER PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
# Traffic goes to loopback only. Report: bench/out/soak.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_cargo
ensure_postgres
command -v redis-server >/dev/null || apt_install redis-server

SERVER=${SOAK_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
DB="$SERVER/ecole_soak"
export SOAK_MINUTES=${SOAK_MINUTES:-30}
export SOAK_PASSWORD=Soak-motdepasse-2026
say "compilation (release)"
cargo build --release --bins -q

say "base ecole_soak : migrations, école de ${SOAK_ELEVES:-300} élèves"
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS ecole_soak WITH (FORCE)" >/dev/null
DATABASE_URL=$DB ./target/release/ecole migrate >/dev/null
DATABASE_URL=$DB ./target/release/ecole seed --eleves "${SOAK_ELEVES:-300}" --quiet >/dev/null
DATABASE_URL=$DB ECOLE_SUPERUSER_PASSWORD=$SOAK_PASSWORD ./target/release/ecole createsuperuser \
  --username soak --email soak@ecole.test --no-input >/dev/null
psql "$DB" -qc "ANALYZE" >/dev/null

mkdir -p bench/out
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "endurance : $SOAK_MINUTES min"
set +e
DATABASE_URL=$DB ./target/release/ecole-bench soak --bin-dir target/release | tee bench/out/soak.tmp
status=${PIPESTATUS[0]}
set -e
{
  echo "# Endurance — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine : $(nproc) cœurs, charge moyenne au début : $load_before, à la fin : $(cut -d' ' -f1-3 /proc/loadavg) ;" \
    "${SOAK_ELEVES:-300} élèves (\`ecole seed\`), 2 API, 2 workers, 1 planificateur, ${SOAK_RATE:-50} requêtes/s"
  echo
  cat bench/out/soak.tmp
} >bench/out/soak.md
rm -f bench/out/soak.tmp
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS ecole_soak WITH (FORCE)" >/dev/null || true
exit "$status"
