#!/usr/bin/env bash
# `make bench`: release build, then each section (BENCH_SECTIONS, default "users jobs"):
#   users  1,000 users, wrk against the API, and pgbench (select-only, prepared) on the same
#          server as the machine's ceiling for one indexed read → bench/out/foundation.md
#   jobs   10,000 no-op jobs through the outbox with 2 workers: throughput and pickup
#          latency, worker RSS → bench/out/jobs.md
#   pedagogie  `ecole seed --eleves 1500`, wrk (BENCH_LIST_DURATION, default 10 s) on the
#          pupils, grades and attendance lists as ADMIN and as a PARENT, and the time of
#          `notes/saisie/` for a 60-pupil class → bench/out/pedagogie.md
#   finances  `ecole seed --eleves 1500`, the API and 2 workers: `factures/generer/` for every
#          level with the PDFs, 200 concurrent payments over 50 invoices (none overpaid), the
#          reminders of ~3,000 overdue invoices → bench/out/finances.md
# Traffic goes to loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DURATION=${BENCH_DURATION:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
ensure_cargo
ensure_postgres
ensure_redis
command -v wrk >/dev/null || apt_install wrk
command -v pgbench >/dev/null || apt_install postgresql-contrib

SERVER=${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}
DB_URL="$SERVER/ecole_bench"
PGBENCH_DB=ecole_pgbench

SECTIONS=${BENCH_SECTIONS:-users jobs pedagogie finances}
say "compilation (release)"
cargo build --release --bins -q

export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS ecole_bench WITH (FORCE)" >/dev/null
export DATABASE_URL=$DB_URL
./target/release/ecole migrate >/dev/null
mkdir -p bench/out
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

to_ms() { # wrk latency (e.g. 812.00us, 1.20ms, 2.01s) -> ms
  python3 -c "import sys,re; v=sys.argv[1]; m=re.match(r'([0-9.]+)(us|ms|s)',v); n=float(m.group(1)); print(round(n/1000 if m.group(2)=='us' else n*1000 if m.group(2)=='s' else n,2))" "$1"
}

bench_users() {
say "base ecole_bench : migrations, 1 000 utilisateurs"
ECOLE_SUPERUSER_PASSWORD=Bench-motdepasse-2026 ./target/release/ecole createsuperuser \
  --username bench --email bench@ecole.test --no-input >/dev/null
psql "$DB_URL" -q <<'SQL' >/dev/null
INSERT INTO users (username, email, password_hash, first_name, last_name, role, telephone)
SELECT 'user' || g, 'user' || g || '@ecole.test', (SELECT password_hash FROM users WHERE username = 'bench'),
       'Prénom' || g, 'Nom' || g,
       (ARRAY['ADMIN','DIRECTION','ENSEIGNANT','COMPTABLE','BIBLIOTHECAIRE','PARENT','ELEVE'])[1 + g % 7],
       '+224620' || lpad(g::text, 6, '0')
FROM generate_series(1, 999) AS g;
ANALYZE;
SQL

PORT=$(free_port)
LOG=$(mktemp)
HTTP_BIND=127.0.0.1:$PORT RUST_LOG=warn ./target/release/ecole-api >"$LOG" 2>&1 &
API_PID=$!
PIDS+=($API_PID)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf -H 'content-type: application/json' \
  -d '{"username":"bench","password":"Bench-motdepasse-2026"}' "http://127.0.0.1:$PORT/api/v1/auth/login/" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
[ -n "$TOKEN" ] || die "connexion impossible"


declare -A RESULT
run_wrk() { # name path
  local name=$1 path=$2 out
  say "wrk ${DURATION}s, $CONNECTIONS connexions : $path"
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path")
  local rps p50 p99 non2xx sockerr
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  sockerr=$(echo "$out" | awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}')
  RESULT[$name]="$rps|$p50|$p99|$(( ${non2xx:-0} + ${sockerr:-0} ))"
}

run_wrk me "/api/v1/users/me/"
run_wrk list "/api/v1/users/?page_size=50"
RSS_KB=$(awk '/VmHWM/ {print $2}' /proc/$API_PID/status)

say "pgbench -S -M prepared -c $CONNECTIONS (${DURATION}s)"
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $PGBENCH_DB WITH (FORCE)" >/dev/null
psql "$SERVER/postgres" -qc "CREATE DATABASE $PGBENCH_DB" >/dev/null
pgbench -q -i -s 10 "$SERVER/$PGBENCH_DB" >/dev/null 2>&1
PG_TPS=$(pgbench -S -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" "$SERVER/$PGBENCH_DB" 2>/dev/null \
  | awk '/^tps/ {print int($3)}')
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $PGBENCH_DB WITH (FORCE)" >/dev/null

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# Fondation — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine : $(nproc) cœurs, charge moyenne avant la fin : $LOAD ; wrk ${DURATION}s, $CONNECTIONS connexions ; pgbench -S -M prepared : **$PG_TPS TPS**"
  echo
  echo "| mesure | req/s | p50 (ms) | p99 (ms) | erreurs | % de pgbench | objectif |"
  echo "|---|---|---|---|---|---|---|"
  for entry in "me|GET /api/v1/users/me/|≥ 50 % de pgbench, p99 < 10 ms" "list|GET /api/v1/users/?page_size=50|≥ 3 000 req/s"; do
    IFS='|' read -r key label target <<<"$entry"
    IFS='|' read -r rps p50 p99 errs <<<"${RESULT[$key]}"
    pct=$(python3 -c "print(round(100*float('$rps')/max(1,int('$PG_TPS')),1))")
    echo "| $label | $rps | $p50 | $p99 | $errs | $pct % | $target |"
  done
  echo
  echo "RSS maximale de l'API sous charge : $((RSS_KB / 1024)) Mo (objectif < 40 Mo)"
} | tee bench/out/foundation.md
kill $API_PID 2>/dev/null || true
}

bench_jobs() {
  say "jobs : 2 workers, 10 000 jobs vides puis 2 000 jobs cadencés"
  local prefix="bench$$" w1 w2 rss1 rss2
  REDIS_PREFIX=$prefix RUST_LOG=warn ./target/release/ecole-worker >/dev/null 2>&1 &
  w1=$!; PIDS+=($w1)
  REDIS_PREFIX=$prefix RUST_LOG=warn ./target/release/ecole-worker >/dev/null 2>&1 &
  w2=$!; PIDS+=($w2)
  sleep 1
  local table
  table=$(./target/release/ecole-bench jobs --total "${BENCH_JOBS:-10000}")
  rss1=$(awk '/VmHWM/ {print $2}' /proc/$w1/status)
  rss2=$(awk '/VmHWM/ {print $2}' /proc/$w2/status)
  kill -TERM $w1 $w2 2>/dev/null || true
  wait $w1 $w2 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$prefix:*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
  {
    echo "# Jobs — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine : $(nproc) cœurs, charge moyenne : $(cut -d' ' -f1-3 /proc/loadavg) ; 2 workers (WORKER_CONCURRENCY par défaut), relais dans chaque worker"
    echo
    echo "$table"
    echo
    echo "RSS maximale des workers : $((rss1 / 1024)) Mo et $((rss2 / 1024)) Mo (objectif < 40 Mo)"
  } | tee bench/out/jobs.md
}

bench_pedagogie() {
  say "pédagogie : ecole seed --eleves 1500"
  local db="$SERVER/ecole_bench_peda" port log pid seed_out
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS ecole_bench_peda WITH (FORCE)" >/dev/null
  DATABASE_URL=$db ./target/release/ecole migrate >/dev/null
  seed_out=$(DATABASE_URL=$db ./target/release/ecole seed --eleves 1500 --quiet)
  seed_out=${seed_out%%$'\n'*}
  DATABASE_URL=$db ECOLE_SUPERUSER_PASSWORD=Bench-motdepasse-2026 ./target/release/ecole createsuperuser \
    --username bench --email bench@ecole.test --no-input >/dev/null
  psql "$db" -qc "ANALYZE" >/dev/null
  port=$(free_port)
  log=$(mktemp)
  DATABASE_URL=$db HTTP_BIND=127.0.0.1:$port RUST_LOG=warn ./target/release/ecole-api >"$log" 2>&1 &
  pid=$!
  PIDS+=($pid)
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
  login() {
    curl -sf -H 'content-type: application/json' -d "{\"username\":\"$1\",\"password\":\"$2\"}" \
      "http://127.0.0.1:$port/api/v1/auth/login/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])'
  }
  local admin_token parent_user parent_token eleve classe jour
  admin_token=$(login bench Bench-motdepasse-2026)
  read -r parent_user eleve classe <<<"$(psql "$db" -Atc "SELECT u.username, e.id, e.classe_actuelle_id FROM eleve_parents ep JOIN parents p ON p.id = ep.parent_id JOIN users u ON u.id = p.user_id JOIN eleves e ON e.id = ep.eleve_id ORDER BY ep.id LIMIT 1" | tr '|' ' ')"
  parent_token=$(login "$parent_user" Ecole-demo-2026)
  jour=$(psql "$db" -Atc "SELECT max(date) FROM presences")
  local d=${BENCH_LIST_DURATION:-10} rows=""
  list_wrk() { # label token path
    local out rps p50 p99 non2xx sockerr
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${d}s" --latency -H "Authorization: Bearer $2" "http://127.0.0.1:$port$3")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
    p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    sockerr=$(echo "$out" | awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}')
    rows+="| $1 | \`$3\` | $rps | $p50 | $p99 | $(( ${non2xx:-0} + ${sockerr:-0} )) |"$'\n'
  }
  say "wrk ${d}s par liste, $CONNECTIONS connexions"
  list_wrk ADMIN "$admin_token" "/api/v1/eleves/?page_size=50"
  list_wrk PARENT "$parent_token" "/api/v1/eleves/?page_size=50"
  list_wrk ADMIN "$admin_token" "/api/v1/notes/?eleve=$eleve"
  list_wrk PARENT "$parent_token" "/api/v1/notes/?eleve=$eleve"
  list_wrk ADMIN "$admin_token" "/api/v1/notes/?classe=$classe&periode=TRIMESTRE_1&page_size=50"
  list_wrk PARENT "$parent_token" "/api/v1/notes/?classe=$classe&periode=TRIMESTRE_1&page_size=50"
  list_wrk ADMIN "$admin_token" "/api/v1/presences/?classe=$classe&date=$jour"
  list_wrk PARENT "$parent_token" "/api/v1/presences/?classe=$classe&date=$jour"

  say "notes/saisie/ pour une classe de 60 élèves (médiane de 20)"
  local annee classe60 matiere body times
  annee=$(psql "$db" -Atc "SELECT id FROM annees_scolaires WHERE est_active")
  classe60=$(psql "$db" -qAtc "INSERT INTO classes (niveau, nom, annee_scolaire_id) VALUES ('DIXIEME', 'Bench 60', $annee) RETURNING id")
  psql "$db" -qc "UPDATE eleves SET classe_actuelle_id = $classe60 WHERE id IN (SELECT id FROM eleves ORDER BY id DESC LIMIT 60)" >/dev/null
  matiere=$(psql "$db" -Atc "SELECT id FROM matieres WHERE code = 'MATH'")
  local debut
  debut=$(psql "$db" -Atc "SELECT date_debut FROM periodes WHERE annee_scolaire_id = $annee AND code = 'TRIMESTRE_1'")
  body=$(psql "$db" -Atc "SELECT json_build_object('classe', $classe60, 'matiere', $matiere, 'periode', 'TRIMESTRE_1', 'type_note', 'DEVOIR', 'date_evaluation', '$debut', 'notes', json_agg(json_build_object('eleve', id, 'valeur', 12.5))) FROM eleves WHERE classe_actuelle_id = $classe60")
  times=""
  for _ in $(seq 1 20); do
    times+="$(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $admin_token" -H 'content-type: application/json' \
      -d "$body" "http://127.0.0.1:$port/api/v1/notes/saisie/")"$'\n'
  done
  local statuses median
  statuses=$(echo "$times" | awk 'NF {print $1}' | sort -u | tr '\n' ' ')
  median=$(echo "$times" | awk 'NF {print $2*1000}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  local rss
  rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill $pid 2>/dev/null || true
  {
    echo "# Pédagogie — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine : $(nproc) cœurs, charge moyenne : $(cut -d' ' -f1-3 /proc/loadavg) ; données : $seed_out"
    echo
    echo "wrk ${d} s, $CONNECTIONS connexions ; objectif de chaque liste : ≥ 3 000 req/s, p99 < 25 ms, 0 erreur."
    echo
    echo "| rôle | requête | req/s | p50 (ms) | p99 (ms) | erreurs |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$rows"
    echo
    echo "\`notes/saisie/\` pour 60 élèves : médiane ${median} ms sur 20 saisies (statuts : $statuses; objectif < 50 ms)"
    echo
    echo "RSS maximale de l'API : $((rss / 1024)) Mo"
  } | tee bench/out/pedagogie.md
}

bench_finances() {
  say "finances : ecole seed --eleves 1500, API et 2 workers"
  local db="$SERVER/ecole_bench_fin" port log api w1 w2 media prefix token table
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS ecole_bench_fin WITH (FORCE)" >/dev/null
  DATABASE_URL=$db ./target/release/ecole migrate >/dev/null
  DATABASE_URL=$db ./target/release/ecole seed --eleves 1500 --quiet >/dev/null
  DATABASE_URL=$db ECOLE_SUPERUSER_PASSWORD=Bench-motdepasse-2026 ./target/release/ecole createsuperuser \
    --username bench --email bench@ecole.test --no-input >/dev/null
  psql "$db" -qc "ANALYZE" >/dev/null
  media=$(mktemp -d)
  prefix="benchfin$$"
  port=$(free_port)
  log=$(mktemp)
  DATABASE_URL=$db MEDIA_ROOT=$media REDIS_PREFIX=$prefix HTTP_BIND=127.0.0.1:$port RUST_LOG=warn \
    ./target/release/ecole-api >"$log" 2>&1 &
  api=$!; PIDS+=($api)
  DATABASE_URL=$db MEDIA_ROOT=$media REDIS_PREFIX=$prefix RUST_LOG=warn ./target/release/ecole-worker >/dev/null 2>&1 &
  w1=$!; PIDS+=($w1)
  DATABASE_URL=$db MEDIA_ROOT=$media REDIS_PREFIX=$prefix RUST_LOG=warn ./target/release/ecole-worker >/dev/null 2>&1 &
  w2=$!; PIDS+=($w2)
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
  sleep 1
  token=$(curl -sf -H 'content-type: application/json' -d '{"username":"bench","password":"Bench-motdepasse-2026"}' \
    "http://127.0.0.1:$port/api/v1/auth/login/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
  [ -n "$token" ] || die "connexion impossible"
  local load_before
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  table=$(DATABASE_URL=$db BENCH_TOKEN=$token ./target/release/ecole-bench finances --api "http://127.0.0.1:$port")
  local rss_api rss1 rss2 pdfs
  rss_api=$(awk '/VmHWM/ {print $2}' /proc/$api/status)
  rss1=$(awk '/VmHWM/ {print $2}' /proc/$w1/status)
  rss2=$(awk '/VmHWM/ {print $2}' /proc/$w2/status)
  pdfs=$(du -sh "$media" | cut -f1)
  kill -TERM $api $w1 $w2 2>/dev/null || true
  wait $api $w1 $w2 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$prefix:*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null
  rm -rf "$media"
  {
    echo "# Finances — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine : $(nproc) cœurs, charge moyenne au début : $load_before, à la fin : $(cut -d' ' -f1-3 /proc/loadavg) ; 1 500 élèves (\`ecole seed\`), l'API et 2 workers (WORKER_CONCURRENCY par défaut)"
    echo
    echo "$table"
    echo
    echo "RSS maximale : API $((rss_api / 1024)) Mo, workers $((rss1 / 1024)) et $((rss2 / 1024)) Mo ; PDF écrits : $pdfs"
  } | tee bench/out/finances.md
}

for section in $SECTIONS; do
  case $section in
    users) bench_users ;;
    jobs) bench_jobs ;;
    pedagogie) bench_pedagogie ;;
    finances) bench_finances ;;
    *) die "section inconnue : $section (users, jobs, pedagogie, finances)" ;;
  esac
done
