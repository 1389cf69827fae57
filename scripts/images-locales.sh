#!/usr/bin/env bash
# Local stand-ins for the public container images that deploy/ names, for machines that reach
# Debian's package mirror but no container registry (tests and trials; a real server pulls the
# official images and never needs this script):
#   debian:bookworm-slim     debootstrap --variant=minbase from the Debian mirror
#   rust:1-slim-bookworm     that base + gcc + this machine's Rust toolchain (rustup, stable)
#   postgres:15-bookworm     Debian's postgresql-15; entrypoint honours POSTGRES_USER,
#                            POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, /docker-entrypoint-initdb.d
#   redis:7-bookworm         Debian's redis-server (7.0)
#   nginx:1.26-alpine        Debian's nginx (1.22) + wget; same paths (/etc/nginx/nginx.conf)
#   certbot/certbot:v2.11.0  Debian's certbot (2.1), `certbot` as the entrypoint
#   ecole-e2e/pebble:local   Debian's pebble, the test ACME server of Let's Encrypt (tests only)
#   ecole-e2e/faux:local     Debian's python3, for the SMTP sink and fake SMS API (tests only)
# Also installs docker.io and docker-compose (Debian) and starts dockerd when it is not running.
# Usage: bash scripts/images-locales.sh   (skips images that exist; FORCE=1 rebuilds)
set -euo pipefail
log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive
pkgs=()
command -v dockerd >/dev/null || pkgs+=(docker.io)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
command -v docker-compose >/dev/null || pkgs+=(docker-compose)
if [ ${#pkgs[@]} -gt 0 ]; then log "apt-get install ${pkgs[*]}"; apt-get update -qq; apt-get install -y -qq "${pkgs[@]}" >/dev/null; fi
DOCKER=/usr/bin/docker   # Debian's client matches Debian's daemon (BuildKit with DOCKER_BUILDKIT=1)
if ! $DOCKER info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  $DOCKER info >/dev/null 2>&1 || { echo "dockerd did not start: tail /var/log/dockerd.log" >&2; exit 1; }
fi
have() { [ -z "${FORCE:-}" ] && $DOCKER image inspect "$1" >/dev/null 2>&1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}

if ! have debian:bookworm-slim; then
  log "debian:bookworm-slim (debootstrap, a few minutes)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -5 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
  # This machine reaches the registries through its own certificate authorities: images built
  # on this base trust them too once they install ca-certificates.
  cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  tar -C "$work/rootfs" -c . | $DOCKER import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  rm -rf "$work/rootfs"
fi

build() { # tag dir
  log "$1"; DOCKER_BUILDKIT=1 $DOCKER build -q -t "$1" "$2" >/dev/null
}

if ! have rust:1-slim-bookworm; then
  tc=${RUSTUP_HOME:-$HOME/.rustup}/toolchains/stable-x86_64-unknown-linux-gnu
  [ -d "$tc" ] || { echo "no stable toolchain at $tc" >&2; exit 1; }
  mkdir -p "$work/rust"; cp -a "$tc" "$work/rust/toolchain"; rm -rf "$work/rust/toolchain/share/doc"
  cp -a "${CARGO_HOME:-$HOME/.cargo}/bin" "$work/rust/cargobin"
  mkdir -p "$work/rust/cas"; cp /usr/local/share/ca-certificates/*.crt "$work/rust/cas/" 2>/dev/null || true
  cat >"$work/rust/Dockerfile" <<'D'
FROM debian:bookworm-slim
COPY cas/ /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates pkg-config make \
    && update-ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY toolchain /usr/local/rustup/toolchains/stable-x86_64-unknown-linux-gnu
COPY cargobin /usr/local/cargo/bin
RUN rustup default stable >/dev/null && cargo --version
D
  build rust:1-slim-bookworm "$work/rust"; rm -rf "$work/rust"
fi

if ! have postgres:15-bookworm; then
  mkdir -p "$work/pg"
  cat >"$work/pg/entrypoint.sh" <<'D'
#!/bin/bash
# Subset of the official image's entrypoint: first start initialises PGDATA.
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
shift || true
mkdir -p "$PGDATA" /var/run/postgresql && chown -R postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  user=${POSTGRES_USER:-postgres}; db=${POSTGRES_DB:-$user}
  pw=$(mktemp); printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"; chown postgres "$pw"
  gosu postgres initdb -U "$user" --pwfile="$pw" --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null; rm -f "$pw"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  gosu postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$db" = postgres ] || gosu postgres psql -q -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) bash "$f" ;;
      *.sql) gosu postgres psql -q -v ON_ERROR_STOP=1 -U "$user" -d "$db" -f "$f" ;;
    esac
  done
  gosu postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec gosu postgres postgres "$@"
D
  cat >"$work/pg/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 gosu tzdata \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /docker-entrypoint-initdb.d
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod +x /usr/local/bin/docker-entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
D
  build postgres:15-bookworm "$work/pg"
fi

if ! have redis:7-bookworm; then
  mkdir -p "$work/redis"
  # As the official image: without a config file, redis-server runs with protected mode off
  # (the container network is the boundary; set a password with --requirepass).
  cat >"$work/redis/entrypoint.sh" <<'D'
#!/bin/sh
set -e
if [ "${1:-}" = redis-server ] && ! printf '%s\n' "$@" | grep -q '\.conf$'; then
  shift; set -- redis-server --protected-mode no "$@"
fi
exec "$@"
D
  cat >"$work/redis/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod +x /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
D
  build redis:7-bookworm "$work/redis"
fi

if ! have nginx:1.26-alpine; then
  mkdir -p "$work/nginx"
  cat >"$work/nginx/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx wget ca-certificates \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
EXPOSE 80 443
CMD ["nginx", "-g", "daemon off;"]
D
  build nginx:1.26-alpine "$work/nginx"
fi

if ! have certbot/certbot:v2.11.0; then
  mkdir -p "$work/certbot"
  cat >"$work/certbot/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends certbot openssl ca-certificates \
    && rm -rf /var/lib/apt/lists/* && update-ca-certificates >/dev/null
VOLUME /etc/letsencrypt /var/lib/letsencrypt
ENTRYPOINT ["certbot"]
D
  build certbot/certbot:v2.11.0 "$work/certbot"
fi

if ! have ecole-e2e/pebble:local; then
  mkdir -p "$work/pebble"
  cat >"$work/pebble/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends pebble && rm -rf /var/lib/apt/lists/*
EXPOSE 14000 15000
ENTRYPOINT ["pebble"]
D
  build ecole-e2e/pebble:local "$work/pebble"
fi
if ! have ecole-e2e/faux:local; then
  mkdir -p "$work/faux"
  cat >"$work/faux/Dockerfile" <<'D'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
EXPOSE 2525 8080
D
  build ecole-e2e/faux:local "$work/faux"
fi
log "images : $($DOCKER images --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | sort | tr '\n' ' ')"
