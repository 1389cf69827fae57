#!/usr/bin/env bash
# Shared helpers of the project's scripts: start (or install) PostgreSQL and Redis, find tools.
# Sourced, not run.

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m!!\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERREUR\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

APT_UPDATED=""
apt_install() {
  if ! is_root; then
    die "paquets manquants : $* — installez-les (sudo apt-get install -y $*) puis relancez."
  fi
  command -v apt-get >/dev/null || die "apt-get introuvable : installez $* à la main."
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || warn "apt-get update a échoué"
    APT_UPDATED=1
  fi
  say "installation : $*"
  local extra=()
  [ -n "${APT_NO_RECOMMENDS:-}" ] && extra+=(--no-install-recommends)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${extra[@]}" "$@" >/dev/null \
    || die "installation de $* impossible"
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

# Runs a command as the postgres system user when we are root (initdb refuses root).
as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# PostgreSQL on 127.0.0.1:5432: start it when installed but stopped, install it when missing.
ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    return 0
  fi
  if [ -z "$(pg_bindir)" ]; then
    apt_install postgresql postgresql-contrib
  fi
  if command -v pg_ctlcluster >/dev/null; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ]; then
      say "démarrage de PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
        || pg_ctlcluster "$version" main start 2>/dev/null || true
    fi
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 0.5
  done
  die "PostgreSQL ne répond pas sur 127.0.0.1:5432"
}

# Redis on 127.0.0.1:6379: same policy.
ensure_redis() {
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server
  fi
  say "démarrage de Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  local dir=/var/lib/redis log=/var/log/redis/ecole.log
  [ -w "$dir" ] || dir=/tmp
  [ -w "$(dirname "$log")" ] || log=/tmp/ecole-redis.log
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --logfile "$log" >/dev/null
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.2
  done
  die "Redis ne répond pas sur 127.0.0.1:6379"
}

# poppler-utils (pdftotext, pdfinfo, pdfimages): the PDF tests read back what they render.
ensure_poppler() {
  if command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null \
    && command -v pdfimages >/dev/null; then
    return 0
  fi
  apt_install poppler-utils
}

# pg_dump and pg_restore of the installed PostgreSQL (the backup tests and `ecole backup`);
# exports PG_DUMP and PG_RESTORE so that they match the server version.
ensure_pg_tools() {
  local bindir
  bindir=$(pg_bindir || true)
  if [ -z "$bindir" ] || [ ! -x "$bindir/pg_dump" ]; then
    apt_install postgresql-client
    bindir=$(pg_bindir || true)
  fi
  [ -n "$bindir" ] && [ -x "$bindir/pg_dump" ] && [ -x "$bindir/pg_restore" ] \
    || die "pg_dump/pg_restore introuvables : installez postgresql-client"
  export PG_DUMP="$bindir/pg_dump" PG_RESTORE="$bindir/pg_restore"
}

# nginx (only `nginx -t` and a loopback instance started by the tests) and openssl (a
# self-signed certificate). Services are not started by the install.
ensure_nginx() {
  command -v openssl >/dev/null || apt_install openssl
  if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    return 0
  fi
  local policy=/usr/sbin/policy-rc.d created=""
  if is_root && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
  fi
  apt_install nginx-light
  [ -n "$created" ] && rm -f "$policy"
  return 0
}

# A Compose implementation that validates deploy/docker-compose.yml without an engine: the
# Docker plugin when present, else Debian's docker-compose (without the engine it recommends).
ensure_compose_validator() {
  if docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1; then
    return 0
  fi
  APT_NO_RECOMMENDS=1 apt_install docker-compose
  docker-compose version >/dev/null 2>&1 || die "docker-compose installé mais inutilisable"
}

# moto's S3 server (a local fake of S3 for the backup tests), in a virtualenv under target/;
# exports MOTO_SERVER.
MOTO_VERSION=5.2.5
ensure_moto() {
  local venv=target/moto-venv
  if [ ! -x "$venv/bin/moto_server" ]; then
    command -v python3 >/dev/null || apt_install python3
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv" || die "python3 -m venv impossible"
    fi
    say "installation de moto $MOTO_VERSION (faux S3 des tests) dans $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
      || die "installation de moto impossible (PyPI injoignable ?)"
  fi
  MOTO_SERVER="$(pwd)/$venv/bin/moto_server"
  export MOTO_SERVER
}

# The four programs an operator runs (API, worker, beat, CLI): `make run` and `make build`
# build these and not the bench or test crates.
ECOLE_BINS="-p ecole-api-bin -p ecole-worker-bin -p ecole-beat-bin -p ecole-cli"

ensure_cargo() {
  command -v cargo >/dev/null || die "cargo introuvable : installez Rust (https://rustup.rs) puis relancez."
}

# A free TCP port on loopback.
free_port() {
  python3 - <<'PY' 2>/dev/null || echo 55432
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# A throwaway PostgreSQL cluster in tmpfs with fsync off, for tests and benchmarks.
# Sets EPHEMERAL_PG_URL and EPHEMERAL_PG_DIR; stop it with stop_ephemeral_postgres.
start_ephemeral_postgres() {
  local bindir port base dir
  bindir=$(pg_bindir) || return 1
  [ -x "$bindir/initdb" ] || return 1
  port=$(free_port)
  base=/dev/shm
  [ -d "$base" ] && [ -w "$base" ] || base=/tmp
  dir=$(mktemp -d "$base/ecole-pg-XXXXXX")
  is_root && chown postgres:postgres "$dir"
  as_postgres "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { warn "initdb a échoué (voir $dir/initdb.log)"; return 1; }
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
    start >/dev/null 2>&1 || { warn "démarrage du PostgreSQL jetable impossible (voir $dir/server.log)"; return 1; }
  EPHEMERAL_PG_DIR=$dir
  EPHEMERAL_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export EPHEMERAL_PG_DIR EPHEMERAL_PG_URL
}

stop_ephemeral_postgres() {
  [ -n "${EPHEMERAL_PG_DIR:-}" ] || return 0
  as_postgres "$(pg_bindir)/pg_ctl" -D "$EPHEMERAL_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$EPHEMERAL_PG_DIR"
  EPHEMERAL_PG_DIR=""
}
