# tools/backup.sh - backups and point-in-time recovery of the local PostgreSQL with
# pgBackRest, and anonymised copies for staging (tools/quill backup, restore,
# copy-anonymised; docs/operations.md).  Sourced by tools/quill after tools/lib.sh.
#
# The repository lives in .data/backup (pgbackrest.conf, the backups, the archived WAL, its
# logs); the stanza is "quill".  WAL archiving is on for the local cluster (pg_archive_conf in
# tools/lib.sh) and starts to feed the repository once the first backup made this file.

STANZA=quill

pgbr_conf() { printf '%s/pgbackrest.conf' "$(pg_owned_dir backup)"; }

# Run pgbackrest as the postgres user.  Its libpq takes the host from PGHOST: the local
# cluster listens on 127.0.0.1 only, without a Unix socket.
pgbr() {
  as_pg env PGHOST=127.0.0.1 pgbackrest --config="$(pgbr_conf)" --stanza=$STANZA "$@"
}

# Write pgbackrest.conf.  Retention: QUILL_BACKUP_RETENTION_FULL full backups are kept (2),
# and with each the differential ones, up to QUILL_BACKUP_RETENTION_DIFF (6); archived WAL
# is kept as far back as the oldest backup kept, so any time since then can be restored.
pgbr_write_conf() {
  local repo dir
  repo=$(pg_owned_dir backup); dir=$(pg_dir)
  as_pg mkdir -p "$repo/repo" "$repo/log" "$repo/lock" "$repo/spool"
  as_pg tee "$repo/pgbackrest.conf" >/dev/null <<CONF
# Written by tools/quill backup; edits are lost.
[global]
repo1-path=$repo/repo
repo1-retention-full=${QUILL_BACKUP_RETENTION_FULL:-2}
repo1-retention-diff=${QUILL_BACKUP_RETENTION_DIFF:-6}
compress-type=lz4
process-max=2
start-fast=y
archive-timeout=60
log-path=$repo/log
lock-path=$repo/lock
spool-path=$repo/spool
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$dir
pg1-port=$PGPORT
pg1-user=postgres
CONF
}

pg_show() { psql_q -tAc "SHOW $1"; }

# The local cluster running with archiving into the repository (a restart if it was
# started before archiving was configured: archive_mode takes effect only at a start).
pgbr_ready() {
  pg_start
  pgbr_write_conf
  if [ "$(pg_show archive_mode)" != on ] || ! pg_show archive_command | grep -q pgbackrest; then
    log "restarting PostgreSQL to turn WAL archiving on"
    pg_stop; pg_start
  fi
  pgbr stanza-create >/dev/null
}

cmd_backup() {
  local type=incr info=0
  for a in "$@"; do
    case "$a" in
      --full) type=full ;; --diff) type=diff ;; --incr) type=incr ;; --info) info=1 ;;
      *) die "usage: tools/quill backup [--full | --diff | --incr | --info]" ;;
    esac
  done
  if [ "$info" -eq 1 ]; then
    [ -f "$(pgbr_conf)" ] || die "no backups yet (tools/quill backup makes the first)"
    pgbr info; return
  fi
  pgbr_ready
  # An incremental or differential backup needs a full one to build on: the first is full.
  pgbr info --output=json | grep -q '"label"' || type=full
  local t0=$SECONDS
  pgbr backup --type=$type || die "pgbackrest backup failed (logs in $(pg_owned_dir backup)/log)"
  log "$type backup done in $((SECONDS - t0)) s; tools/quill backup --info lists them"
}

# Wait until a cluster on port answers as a primary (recovery over), for at most secs.
wait_promoted() {
  local port=$1 secs=$2 i
  for ((i = 0; i < secs * 5; i++)); do
    [ "$(psql -X -At "postgresql://postgres@127.0.0.1:$port/postgres" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && return 0
    sleep 0.2
  done
  return 1
}

# Restore into dir (a cluster of its own, not archiving) and start it on port.
# target: pgbackrest options choosing the point (none: the end of the archived WAL).
restore_into() {
  local dir=$1 port=$2; shift 2
  if pg_running "$dir"; then as_pg "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null; fi
  mkdir -p "$dir"; [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"; chmod 700 "$dir"
  as_pg find "$dir" -mindepth 1 -delete
  pgbr restore --pg1-path="$dir" --archive-mode=off "$@" >/dev/null ||
    die "pgbackrest restore failed (logs in $(pg_owned_dir backup)/log)"
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -t 600 -l "$dir/server.log" \
    -o "-p $port $(pg_opts) -c archive_mode=off" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; die "the restored PostgreSQL did not start"; }
  wait_promoted "$port" 600 || { tail -20 "$dir/server.log" >&2; die "recovery did not finish"; }
}

# The pgbackrest options for --time T (empty: the latest point).
restore_target() {
  [ -n "$1" ] || return 0
  printf '%s\n' --type=time "--target=$1" --target-action=promote
}

cmd_restore() {
  local time="" port=$((PGPORT + 1)) dir="" inplace=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --time) time=${2:?--time needs a timestamp}; shift ;;
      --port) port=${2:?--port needs a number}; shift ;;
      --dir) dir=${2:?--dir needs a directory}; shift ;;
      --in-place) inplace=1 ;;
      *) die "usage: tools/quill restore [--time 'YYYY-MM-DD HH:MM:SS+00'] [--port P | --in-place]" ;;
    esac
    shift
  done
  [ -f "$(pgbr_conf)" ] || die "no backups yet (tools/quill backup makes the first)"
  local target=(); mapfile -t target < <(restore_target "$time")
  local src; src=$(pg_dir)
  # What the running cluster wrote so far goes to the archive first (check switches to a
  # new WAL segment and waits until the old one is archived).
  if pg_running "$src"; then pgbr check >/dev/null || log "warning: the latest WAL could not be archived"; fi
  local t0=$SECONDS
  if [ "$inplace" -eq 1 ]; then
    log "restoring the local cluster in place${time:+ to $time}"
    pg_stop
    pgbr restore --delta "${target[@]}" >/dev/null || die "pgbackrest restore failed (logs in $(pg_owned_dir backup)/log)"
    pg_start
    wait_promoted "$PGPORT" 600 || die "recovery did not finish"
    log "restored in $((SECONDS - t0)) s: $(pg_url quill)"
    return
  fi
  [ -n "$dir" ] || dir=$(pg_owned_dir restore)
  log "restoring${time:+ to $time} into $dir on port $port"
  restore_into "$dir" "$port" "${target[@]}"
  log "restored in $((SECONDS - t0)) s: postgresql://postgres@127.0.0.1:$port/quill (stop it with: pg_ctl -D $dir stop)"
}

# A copy for staging: restore the latest backup (or the point --time names) into a scratch
# cluster, anonymise it there (tools/anonymise.sql), then load it into the target database:
# --to URL (an empty database), or the local database quill_staging, made anew.  Personal
# data never leaves the scratch cluster, which is deleted at the end.  Every user's password
# becomes QUILL_ANON_PASSWORD when it is set (none otherwise: only API keys made afresh, or
# new sessions of new users, reach the copy).
cmd_copy_anonymised() {
  local time="" to="" port=$((PGPORT + 2))
  while [ $# -gt 0 ]; do
    case "$1" in
      --time) time=${2:?--time needs a timestamp}; shift ;;
      --to) to=${2:?--to needs a database URL}; shift ;;
      --port) port=${2:?--port needs a number}; shift ;;
      *) die "usage: tools/quill copy-anonymised [--time T] [--to URL] [--port P]" ;;
    esac
    shift
  done
  [ -f "$(pgbr_conf)" ] || die "no backups yet (tools/quill backup makes the first)"
  [ -x "$BUILD/apps/quill-admin" ] || build
  local hash=""
  if [ -n "${QUILL_ANON_PASSWORD:-}" ]; then
    hash=$(printf '%s\n' "$QUILL_ANON_PASSWORD" | "$BUILD/apps/quill-admin" hash-password) || die "cannot hash QUILL_ANON_PASSWORD"
  fi
  local target=(); mapfile -t target < <(restore_target "$time")
  if pg_running "$(pg_dir)"; then pgbr check >/dev/null || log "warning: the latest WAL could not be archived"; fi
  local scratch; scratch=$(pg_owned_dir scratch)
  local url="postgresql://postgres@127.0.0.1:$port/quill"
  log "restoring${time:+ to $time} into a scratch cluster on port $port"
  restore_into "$scratch" "$port" "${target[@]}"
  # shellcheck disable=SC2064 # expand now: the trap runs after the locals are gone
  trap "as_pg '$PGBIN/pg_ctl' -D '$scratch' -m immediate -w stop >/dev/null 2>&1; as_pg find '$scratch' -mindepth 1 -delete" EXIT
  log "anonymising"
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -v "pw_hash=$hash" \
    -f "$ROOT/tools/anonymise.sql" "$url" || die "anonymising failed: nothing was copied"
  if [ -z "$to" ]; then
    pg_start; recreate_db quill_staging; to=$(pg_url quill_staging)
  fi
  log "loading the anonymised copy into $(printf '%s' "${to%%\?*}" | sed -E 's#//[^@/]*@#//#')"
  pg_dump -Fc "$url" | pg_restore --no-owner --exit-on-error -d "$to" || die "loading the copy failed"
  DATABASE_URL=$to "$BUILD/apps/quill-admin" audit-verify >&2 || die "the copy's audit chains do not verify"
  log "done: $to"
}
