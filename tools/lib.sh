# tools/lib.sh - shell functions shared by tools/quill, tools/test.sh and the bench:
# installing packages, building, and the local PostgreSQL under .data/.
# Sourced, never run; expects ROOT to be set.
ROOT=${ROOT:?ROOT must be set before sourcing tools/lib.sh}
DATA="$ROOT/.data"
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=${QUILL_PG_PORT:-54329}
BUILD="$ROOT/build"
BUILD_SAN="$ROOT/build-san"

log() { printf '\033[1mquill:\033[0m %s\n' "$*" >&2; }
die() { printf 'quill: %s\n' "$*" >&2; exit 1; }

# ---- packages ------------------------------------------------------------------------
PKGS=(build-essential pkg-config meson ninja-build python3 git curl ca-certificates
      libuv1-dev libpq-dev libcjson-dev libsodium-dev libcurl4-openssl-dev libssl-dev
      node-llhttp postgresql-15 postgresql-client-15 clang clang-format clang-tidy cppcheck
      libclang-rt-dev
      prometheus wrk nginx-light chromium)

install_deps() {
  local missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # policy-rc.d keeps Debian from starting the packaged services (nginx, prometheus, the
    # default PostgreSQL cluster): Quill starts what it needs itself.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null; $sudo chmod +x "$policy"; created=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created" -eq 0 ] || $sudo rm -f "$policy"
  fi
}

# ---- build ------------------------------------------------------------------------------
# The renderer of quill-api's /docs page comes from npm, pinned by apps/api/docs's lock
# file; the build embeds it.  --ignore-scripts: no package runs code at install.
fetch_web() {
  local dir="$ROOT/apps/api/docs"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "fetching the /docs renderer (npm ci in apps/api/docs)"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
      die "npm ci in apps/api/docs failed"
    touch "$dir/node_modules"
  fi
}

build() {
  fetch_web
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" --buildtype=debugoptimized >/dev/null
  fi
  ninja -C "$BUILD" >/dev/null || { ninja -C "$BUILD"; die "build failed"; }
}

build_san() {
  fetch_web
  if [ ! -f "$BUILD_SAN/build.ninja" ]; then
    CC=clang meson setup "$BUILD_SAN" "$ROOT" --buildtype=debug -Db_sanitize=address,undefined \
      -Db_lundef=false -Dfuzz=true >/dev/null
  fi
  ninja -C "$BUILD_SAN" >/dev/null || { ninja -C "$BUILD_SAN"; die "sanitizer build failed"; }
}

# ---- PostgreSQL ------------------------------------------------------------------------
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The cluster lives in .data/pg.  When run as root, PostgreSQL runs as the postgres user,
# which may not be able to enter the checkout (a clone under a 0700 directory, say); then
# the cluster lives under /var/lib/postgresql and .data/pg links to it.
pg_dir() {
  local want="$DATA/pg"
  mkdir -p "$DATA"
  if [ -L "$want" ]; then readlink -f "$want"; return; fi
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
    local alt
    alt="/var/lib/postgresql/quill-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; chown postgres:postgres "$alt"; chmod 700 "$alt"
    ln -sfn "$alt" "$want"
    printf '%s\n' "$alt"
    return
  fi
  printf '%s\n' "$want"
}

pg_url() { printf 'postgresql://postgres@127.0.0.1:%s/%s' "$PGPORT" "${1:-quill}"; }

pg_start() {
  local dir; dir=$(pg_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising PostgreSQL in $dir"
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"
    as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return; fi
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c shared_buffers=256MB -c fsync=on" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  log "PostgreSQL on 127.0.0.1:$PGPORT"
}

pg_stop() {
  local dir; dir=$(pg_dir)
  [ -f "$dir/PG_VERSION" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$(pg_url postgres)" "$@"; }

create_db() {
  psql_q -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 ||
    psql_q -c "CREATE DATABASE \"$1\""
}

recreate_db() {
  psql_q -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\"" >/dev/null
}

# ---- environment for the binaries -----------------------------------------------------------
load_env() {
  if [ -f "$ROOT/.env" ]; then set -a; . "$ROOT/.env"; set +a; fi
  export DATABASE_URL=${DATABASE_URL:-$(pg_url quill)}
  if [ -z "${QUILL_SECRET:-}" ]; then
    [ -f "$DATA/secret" ] || head -c 32 /dev/urandom | base64 > "$DATA/secret"
    QUILL_SECRET=$(cat "$DATA/secret"); export QUILL_SECRET
  fi
  export QUILL_MIGRATIONS_DIR=${QUILL_MIGRATIONS_DIR:-$ROOT/migrations}
}

