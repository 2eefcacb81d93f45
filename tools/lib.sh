# tools/lib.sh - shell functions shared by tools/quill, tools/test.sh and the bench:
# installing packages, building, and the local PostgreSQL under .data/.
# Sourced, never run; expects ROOT to be set.
ROOT=${ROOT:?ROOT must be set before sourcing tools/lib.sh}
# QUILL_DATA_DIR moves everything kept under .data/ (the drills make throw-away clusters).
DATA=${QUILL_DATA_DIR:-$ROOT/.data}
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
      libclang-rt-dev pgbackrest pgbouncer
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
  # The file the build embeds, not just the folder: an emptied node_modules is fetched again.
  if [ ! -f "$dir/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
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

# The cluster lives in .data/pg, its backups in .data/backup.  When run as root, PostgreSQL
# (and pgBackRest) run as the postgres user, which may not be able to enter the checkout (a
# clone under a 0700 directory, say); then such a directory lives under /var/lib/postgresql
# and .data/<name> links to it.
pg_owned_dir() {
  local want="$DATA/$1"
  mkdir -p "$DATA"
  if [ -L "$want" ]; then readlink -f "$want"; return; fi
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
    local alt
    if [ "$1" = pg ] && [ "$DATA" = "$ROOT/.data" ]; then # the name it always had
      alt="/var/lib/postgresql/quill-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    else
      alt="/var/lib/postgresql/quill-$(printf '%s' "$DATA" | md5sum | cut -c1-12)-$1"
    fi
    mkdir -p "$alt"; chown postgres:postgres "$alt"; chmod 700 "$alt"
    ln -sfn "$alt" "$want"
    printf '%s\n' "$alt"
    return
  fi
  [ -d "$want" ] || { mkdir -p "$want"; chmod 700 "$want"; }
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$want"
  printf '%s\n' "$want"
}
pg_dir() { pg_owned_dir pg; }

# The settings every local cluster starts with (restored copies and replicas too: a
# standby needs max_connections at least as high as its primary's).
pg_opts() {
  printf '%s' "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c shared_buffers=${QUILL_PG_SHARED_BUFFERS:-256MB} -c fsync=on"
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
  pg_archive_conf "$dir"
  if as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then return; fi
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
    -o "-p $PGPORT $(pg_opts)" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  log "PostgreSQL on 127.0.0.1:$PGPORT"
}

# WAL archiving: quill.conf, included by postgresql.conf and written at every start, turns it
# on and hands each finished WAL segment to pgBackRest once `tools/quill backup` has made its
# configuration (tools/backup.sh); until then segments are recycled as usual.  A segment is
# closed and archived at least every QUILL_ARCHIVE_TIMEOUT seconds (60) while anything is
# written: that bounds how much a lost server can lose (the RPO, docs/operations.md).
pg_archive_conf() {
  local dir=$1 conf
  conf="$(pg_owned_dir backup)/pgbackrest.conf"
  grep -q "^include_if_exists = 'quill.conf'" "$dir/postgresql.conf" ||
    printf "\ninclude_if_exists = 'quill.conf'\n" >>"$dir/postgresql.conf"
  cat >"$dir/quill.conf" <<CONF
# Written by tools/lib.sh at every start; edits are lost.
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $conf || pgbackrest --config=$conf --stanza=quill archive-push %p'
archive_timeout = ${QUILL_ARCHIVE_TIMEOUT:-60}
CONF
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir/quill.conf"
}

pg_stop() {
  local dir; dir=$(pg_dir)
  [ -f "$dir/PG_VERSION" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# ---- a streaming replica ------------------------------------------------------------------
# A hot standby of the local cluster in .data/replica (pg_basebackup), streaming from it, on
# QUILL_REPLICA_PORT (QUILL_PG_PORT + 11): DATABASE_READ_URL for quill-api, and what a
# failover promotes (docs/operations.md).
REPLICA_PORT=${QUILL_REPLICA_PORT:-$((PGPORT + 11))}

pg_running() { as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

replica_start() {
  local dir; dir=$(pg_owned_dir replica)
  if [ ! -f "$dir/PG_VERSION" ]; then
    pg_start
    log "copying the local cluster into $dir (pg_basebackup)"
    as_pg find "$dir" -mindepth 1 -delete
    as_pg "$PGBIN/pg_basebackup" -D "$dir" -d "$(pg_url postgres)" -R -X stream -c fast ||
      die "pg_basebackup failed"
  fi
  pg_running "$dir" && return 0
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" -o "-p $REPLICA_PORT $(pg_opts)" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; die "the replica did not start"; }
  log "replica of 127.0.0.1:$PGPORT on 127.0.0.1:$REPLICA_PORT"
}

replica_stop() {
  local dir; dir=$(pg_owned_dir replica)
  [ -f "$dir/PG_VERSION" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# Promote the replica to a primary (the old primary must be stopped first, or fenced).
replica_promote() {
  local dir; dir=$(pg_owned_dir replica)
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -t 60 promote >/dev/null || die "promotion failed"
  log "the replica on 127.0.0.1:$REPLICA_PORT is a primary now"
}

# ---- PgBouncer --------------------------------------------------------------------------
# A local PgBouncer in transaction mode in front of the local PostgreSQL, on
# QUILL_PGBOUNCER_PORT (QUILL_PG_PORT + 10), with QUILL_PGBOUNCER_POOL server connections
# per database (8); its files are in .data/pgbouncer.  Point quill-api's DATABASE_URL at it
# with QUILL_DB_POOLER=pgbouncer and DATABASE_DIRECT_URL at PostgreSQL (docs/operations.md).
PGB_PORT=${QUILL_PGBOUNCER_PORT:-$((PGPORT + 10))}

pgbouncer_start() {
  local dir; dir=$(pg_owned_dir pgbouncer)
  [ ! -f "$dir/pgbouncer.pid" ] || ! kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || return 0
  as_pg tee "$dir/pgbouncer.ini" >/dev/null <<INI
; Written by tools/quill pgbouncer start; edits are lost.
[databases]
* = host=127.0.0.1 port=$PGPORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = ${QUILL_PGBOUNCER_POOL:-8}
max_client_conn = 2000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  printf '"postgres" ""\n' | as_pg tee "$dir/users.txt" >/dev/null
  as_pg pgbouncer -d -q "$dir/pgbouncer.ini" || die "PgBouncer did not start (see $dir/pgbouncer.log)"
  local i
  for ((i = 0; i < 50; i++)); do
    psql -X -At "postgresql://postgres@127.0.0.1:$PGB_PORT/pgbouncer" -c 'SHOW VERSION' >/dev/null 2>&1 && break
    sleep 0.1
  done
  log "PgBouncer (transaction mode) on 127.0.0.1:$PGB_PORT in front of 127.0.0.1:$PGPORT"
}

pgbouncer_stop() {
  local dir; dir=$(pg_owned_dir pgbouncer)
  [ -f "$dir/pgbouncer.pid" ] || return 0
  local pid; pid=$(cat "$dir/pgbouncer.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
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

