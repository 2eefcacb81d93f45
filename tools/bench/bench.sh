#!/usr/bin/env bash
# tools/bench/bench.sh - Quill's benchmarks (run through `tools/quill bench [names...]`).
#
# Every benchmark runs wrk on loopback (-t2 -c64, bounded in time) against Quill and a
# reference peer in the same run, alternating A and B for several rounds, and prints the
# median ratio.  Absolute numbers drift on shared machines; ratios measured side by side
# hold.  Names: livez (vs nginx), me, entries (vs the Fastify + pg peer in ../shared/peers,
# when that folder exists; Quill's own figures otherwise), login, queue (vs graphile-worker
# and pg-boss).  Default: all.  The HTTP traffic comes from Quill's own wrk scripts
# (tools/bench/wrk/), the same against both sides.  Write benchmarks run quill-worker beside
# quill-api and report the job backlog before and after each Quill round.
#
# Environment: ROUNDS (3), DURATION (5s per run; POST_DURATION 10s for POST), WARMUP (2s); DRAIN_TIMEOUT
# (300 s: longest wait for quill-worker to drain the job backlog between write runs); ENTRIES picks among
# get_entry get_entry_key (the same reads with API keys, metered, against sessions) list_entries
# post_entry; PEERS_POOL (10) sizes the Fastify peer's pg.Pool; QUEUE_JOBS
# (20000) and QUEUE_ROUNDS (2) for the queue.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tools/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
# POST runs longer: this machine's disk stalls fsync for 50-100 ms every ~5 s (kernel
# writeback), which holds every in-flight commit of either server; in 5 s of writes those
# few stalled requests are more than 1 % and decide the p99 by chance.
POST_DURATION=${POST_DURATION:-10s}
WARMUP=${WARMUP:-2s}
OUT="$ROOT/tools/bench/results"
mkdir -p "$OUT"
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/peers}
SCRATCH=$(mktemp -d /tmp/quill-bench.XXXXXX)
chmod 755 "$SCRATCH"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$SCRATCH/nginx.pid" ] && kill "$(cat "$SCRATCH/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

TABLE="$OUT/table.md"
: > "$TABLE"
row() { printf '| %s |\n' "$*" | tee -a "$TABLE"; }

WRK="$ROOT/tools/bench/wrk"

# kv LINE KEY -> the value of KEY=value in a result line
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }

# wrk_run URL [script] [args...] -> prints one line:
#   rps p50_ms p99_ms non2xx socket_errors warm_non2xx backlog_before backlog_after
# The warm-up runs the script with BENCH_CHECK=1, which looks at every status: warm_non2xx
# counts its answers outside 200..299 ("-" without a script, "?" if it printed no result).
# With BACKLOG_DB set, the job backlog of that database is read between the warm-up and the
# measured run and right after the measured run ("-" otherwise).
wrk_run() {
  local url=$1 script=${2:-} ; shift 2 || shift $#
  local sargs=() out r warm=- b0=- b1=-
  [ -n "$script" ] && sargs=(-s "$script")
  out=$(BENCH_CHECK=1 wrk -t2 -c64 -d"$WARMUP" "${sargs[@]}" "$url" -- "$@" 2>&1) || true
  printf '%s\n' "$out" | sed 's/^/warm-up: /' >> "$OUT/wrk.log"
  if [ -n "$script" ]; then
    warm=$(kv "$(grep '^result ' <<<"$out" || true)" non_2xx); warm=${warm:-?}
    if grep -q '^first_non_2xx ' <<<"$out"; then log "$(grep '^first_non_2xx ' <<<"$out" | head -1) ($url)"; fi
  fi
  [ -z "${BACKLOG_DB:-}" ] || b0=$(backlog "$BACKLOG_DB")
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "${sargs[@]}" "$url" -- "$@" 2>&1) || true
  [ -z "${BACKLOG_DB:-}" ] || b1=$(backlog "$BACKLOG_DB")
  printf '%s\n' "$out" >> "$OUT/wrk.log"
  if r=$(grep '^result ' <<<"$out"); then
    printf '%s %s %s %s %s %s %s %s\n' "$(kv "$r" requests_per_s)" "$(kv "$r" p50_ms)" "$(kv "$r" p99_ms)" \
      "$(kv "$r" non_2xx_3xx)" "$(kv "$r" socket_errors)" "$warm" "$b0" "$b1"
    return
  fi
  local rps p50 p99 non2xx errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  errs=$(awk '/Socket errors/ {s=0; for(i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out"); errs=${errs:-0}
  printf '%s %s %s %s %s %s %s %s\n' "${rps:-0}" "$(to_ms "$p50")" "$(to_ms "$p99")" "$non2xx" "$errs" "$warm" "$b0" "$b1"
}

to_ms() {
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_quill_api() {
  local port=$1; shift
  env DATABASE_URL="$(pg_url "${BENCH_DB:-quill_bench}")" QUILL_SECRET="$BENCH_SECRET" \
    QUILL_LISTEN=127.0.0.1:$port QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$@" \
    "$BUILD/apps/quill-api" > "$OUT/quill-api.log" 2>&1 &
  QUILL_PID=$!
  PIDS+=("$QUILL_PID")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/livez" >/dev/null && return; sleep 0.05; done
  die "quill-api did not start (see $OUT/quill-api.log)"
}

# ---- quill-worker beside quill-api, and the job backlog ------------------------------------------
# A write rate counts only if the work it leaves behind is done as fast as it comes: Quill's
# POST enqueues an activity.record event job with every entry.  So write benchmarks run
# quill-worker (same database and secret as the API) throughout, and report the backlog.

# The backlog: jobs not finished yet, i.e. waiting, running, or failed and waiting to retry.
backlog() {
  psql -X -tAq "$(pg_url "$1")" -c "SELECT count(*) FROM jobs WHERE state IN ('available', 'running', 'failed')" \
    2>/dev/null || echo '?'
}

discarded() { psql -X -tAq "$(pg_url "$1")" -c "SELECT count(*) FROM jobs WHERE state = 'discarded'" 2>/dev/null || echo '?'; }

start_quill_worker() {
  env DATABASE_URL="$(pg_url "$1")" QUILL_SECRET="$BENCH_SECRET" QUILL_WORKER_LISTEN=off \
    QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$BUILD/apps/quill-worker" > "$OUT/quill-worker-beside-api.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
  sleep 0.5
  kill -0 "$WORKER_PID" 2>/dev/null || die "quill-worker did not start (see $OUT/quill-worker-beside-api.log)"
}

stop_quill_worker() {
  kill -TERM "$WORKER_PID" 2>/dev/null || true
  wait "$WORKER_PID" 2>/dev/null || true
}

# wait_drained DB: wait (up to DRAIN_TIMEOUT seconds, 300 by default) until the backlog is 0.
wait_drained() {
  local start=$EPOCHREALTIME n
  while n=$(backlog "$1"); [ "$n" != 0 ]; do
    if awk -v a="$start" -v b="$EPOCHREALTIME" -v t="${DRAIN_TIMEOUT:-300}" 'BEGIN { exit !(b - a >= t) }'; then
      log "backlog still $n after ${DRAIN_TIMEOUT:-300} s: going on"
      return
    fi
    sleep 0.1
  done
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a >= 0.05) }' || return 0
  log "quill-worker drained the backlog in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

# 1234567 -> 1,234,567
commas() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"; }

# check_round LABEL ROUND NON2XX ERRORS WARM_NON2XX: say what went wrong in a round.
check_round() {
  local what=""
  [ "${3:-0}" = 0 ] || what+=" $3 answers above 399,"
  [ "${4:-0}" = 0 ] || what+=" $4 socket errors,"
  case "${5:--}" in 0|-) ;; *) what+=" $5 warm-up answers outside 2xx," ;; esac
  [ -z "$what" ] || log "$1 round $2:${what%,}"
}

# compare NAME A_LABEL A_URL A_SCRIPT B_LABEL B_URL B_SCRIPT [wrk args...]
# Runs ROUNDS alternating rounds, A then B; prints a table row with medians and the ratio A/B.
# With B_LABEL empty, A runs alone (no peer).  With BACKLOG_DB set (a write benchmark, with
# quill-worker running on that database), A's cell shows the job backlog before -> after
# each of its measured runs, and the bench waits for the worker to drain the backlog before
# every run, so that A's leftover work never lands on B's time.  If the backlog grew in any
# round, the row says so: that rate is not sustainable and is not a result.
compare() {
  local name=$1 al=$2 au=$3 as=$4 bl=$5 bu=$6 bs=$7; shift 7
  local ar=() br=() a99=() b99=() a50=() b50=() backlogs=() grew=0
  local rps p50 p99 bad errs warm b0 b1 d0 d1
  [ -z "${BACKLOG_DB:-}" ] || d0=$(discarded "$BACKLOG_DB")
  for r in $(seq "$ROUNDS"); do
    [ -z "${BACKLOG_DB:-}" ] || wait_drained "$BACKLOG_DB"
    read -r rps p50 p99 bad errs warm b0 b1 < <(wrk_run "$au" "$as" "$@")
    check_round "$name/$al" "$r" "$bad" "$errs" "$warm"
    ar+=("$rps"); a50+=("$p50"); a99+=("$p99")
    if [ -n "${BACKLOG_DB:-}" ]; then
      backlogs+=("$(commas "$b0") -> $(commas "$b1")")
      log "$name/$al round $r: backlog $b0 -> $b1"
      awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b + 0 <= a + 0) }' || grew=1
    fi
    [ -n "$bl" ] || continue
    [ -z "${BACKLOG_DB:-}" ] || wait_drained "$BACKLOG_DB"
    read -r rps p50 p99 bad errs warm b0 b1 < <(wrk_run "$bu" "$bs" "$@")
    check_round "$name/$bl" "$r" "$bad" "$errs" "$warm"
    br+=("$rps"); b50+=("$p50"); b99+=("$p99")
  done
  local am a99m a50m acell bcell ratio
  am=$(printf '%s\n' "${ar[@]}" | median)
  a50m=$(printf '%s\n' "${a50[@]}" | median); a99m=$(printf '%s\n' "${a99[@]}" | median)
  acell="$al $(printf '%.0f' "$am") req/s (p50 $a50m / p99 $a99m ms"
  if [ -n "${BACKLOG_DB:-}" ]; then
    acell+="; backlog $(printf '%s; ' "${backlogs[@]}")"; acell=${acell%; }
    wait_drained "$BACKLOG_DB"
    d1=$(discarded "$BACKLOG_DB")
    [ "$d1" = "$d0" ] || log "$name: $d0 -> $d1 discarded jobs (see $OUT/quill-worker-beside-api.log)"
  fi
  acell+=")"
  if [ -n "$bl" ]; then
    local bm b50m b99m
    bm=$(printf '%s\n' "${br[@]}" | median)
    b50m=$(printf '%s\n' "${b50[@]}" | median); b99m=$(printf '%s\n' "${b99[@]}" | median)
    bcell="$bl $(printf '%.0f' "$bm") req/s (p50 $b50m / p99 $b99m ms)"
    ratio="**$(awk -v a="$am" -v b="$bm" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')x**"
  else
    bcell="(no peer)"; ratio=""
  fi
  [ "$grew" = 0 ] || ratio="${ratio:+$ratio }(backlog grew: not a sustainable rate)"
  row "$name | $acell | $bcell | $ratio"
}

bench_livez() {
  log "livez: quill-api vs nginx (2 workers) serving a static JSON file"
  cat > "$SCRATCH/nginx.conf" <<NGX
worker_processes 2;
pid $SCRATCH/nginx.pid;
error_log $SCRATCH/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/json json; }
  server { listen 127.0.0.1:58090 reuseport; root $SCRATCH/www; }
}
NGX
  mkdir -p "$SCRATCH/www"; printf '{"status":"ok"}' > "$SCRATCH/www/livez.json"
  nginx -c "$SCRATCH/nginx.conf"
  start_quill_api 58091 QUILL_DB_POOL=2
  sleep 0.5
  local idle; idle=$(rss_kb "$QUILL_PID")
  compare "GET /livez" quill "http://127.0.0.1:58091/livez" "" nginx "http://127.0.0.1:58090/livez.json" ""
  row "quill-api idle RSS | $((idle / 1024)) MiB ($idle KiB) | | "
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
  kill "$(cat "$SCRATCH/nginx.pid")"; rm -f "$SCRATCH/nginx.pid"
}

# ---- the Fastify + pg peer ------------------------------------------------------------------
PEERS=0
PEERS_INSTALLED=0
peers_install() {
  [ "$PEERS_INSTALLED" -eq 1 ] && return 0
  if [ ! -d "$PEERS_SRC" ]; then
    log "no ../shared/peers here: printing Quill's own figures only"
    return 1
  fi
  cp -r "$PEERS_SRC" "$SCRATCH/peers"
  (cd "$SCRATCH/peers" && ./install.sh >/dev/null) || { log "peer install failed"; return 1; }
  PEERS_INSTALLED=1
}

peers_setup() {
  [ "$PEERS" -eq 1 ] && return 0
  peers_install || return 1
  recreate_db peers
  (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) ./seed.sh >/dev/null) || { log "peer seed failed"; return 1; }
  PEERS=1
}

peer_start() {
  (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) PEERS_LISTEN=127.0.0.1:58081 PEERS_POOL=${PEERS_POOL:-10} \
    NODE_ENV=production exec node fastify-quill.js) > "$OUT/peer.log" 2>&1 &
  PEER_PID=$!
  PIDS+=("$PEER_PID")
  for _ in $(seq 100); do curl -sf http://127.0.0.1:58081/livez >/dev/null && return; sleep 0.1; done
  die "the peer did not start (see $OUT/peer.log)"
}

# Seed Quill's bench database with the SEED.md data set (users, sessions, teams, members).
quill_seed() {
  recreate_db quill_bench
  DATABASE_URL=$(pg_url quill_bench) QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$BUILD/apps/quill-migrate" up >/dev/null
  seq 1000 | sed 's/^/peer-token-/' | QUILL_SECRET="$BENCH_SECRET" "$BUILD/apps/quill-admin" digest-tokens \
    | awk '{print NR "\t" $1}' > "$SCRATCH/tokens.tsv"
  seq 100 | sed 's/^/peer-key-/' | QUILL_SECRET="$BENCH_SECRET" "$BUILD/apps/quill-admin" digest-tokens \
    | awk '{print NR "\t" $1}' > "$SCRATCH/keys.tsv"
  {
    echo "CREATE TEMP TABLE bench_tokens (u int, digest text);"
    echo "\\copy bench_tokens FROM '$SCRATCH/tokens.tsv'"
    echo "CREATE TEMP TABLE bench_keys (t int, digest text);"
    echo "\\copy bench_keys FROM '$SCRATCH/keys.tsv'"
    cat "$ROOT/tools/bench/seed_quill.sql"
    if [ -f "$ROOT/tools/bench/seed_entries.sql" ]; then cat "$ROOT/tools/bench/seed_entries.sql"; fi
    cat "$ROOT/tools/bench/seed_keys.sql"
  } | PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$(pg_url quill_bench)" >/dev/null
}

QUILL_BENCH_ENV=(QUILL_RATE_LIMIT=1000000 QUILL_AUTH_IP_LIMIT=1000000)

bench_me() {
  log "GET /v1/me: quill-api (vs Fastify + pg when the peer is here), tools/bench/wrk/me.lua over the 1,000 users"
  quill_seed
  start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  if peers_setup; then
    peer_start
    compare "GET /v1/me" quill "http://127.0.0.1:58091" "$WRK/me.lua" fastify "http://127.0.0.1:58081" "$WRK/me.lua"
    kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true
  else
    compare "GET /v1/me" quill "http://127.0.0.1:58091" "$WRK/me.lua" "" "" ""
  fi
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
}

# The journal routes: one entry, a page of 50, and POST (which adds rows, so it runs last,
# and both sides are reseeded before each comparison).  POST is a write benchmark:
# quill-worker runs beside quill-api and the job backlog is reported (see compare).
bench_entries() {
  local peer=1
  if peers_setup; then
    log "journal entries: quill-api vs Fastify + pg, with tools/bench/wrk/ on both"
  else
    log "journal entries: no peer, Quill's own figures only"
    peer=0
  fi
  local name script d backlog_db peer_side
  for pair in "GET one entry:get_entry.lua" "GET one entry with an API key (metered):get_entry_key.lua" \
      "GET a page of 50:list_entries.lua" "POST an entry:post_entry.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${ENTRIES:-get_entry get_entry_key list_entries post_entry} " == *" ${script%.lua} "* ]] || continue
    quill_seed
    start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
    peer_side=("" "" "")
    if [ "$script" = get_entry_key.lua ]; then
      # metering's cost: the same reads with the teams' API keys (A) and the users' sessions (B)
      peer_side=(quill-session "http://127.0.0.1:58091" "$WRK/get_entry.lua")
    elif [ "$peer" = 1 ]; then
      (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) ./seed.sh >/dev/null)
      peer_start
      peer_side=(fastify "http://127.0.0.1:58081" "$WRK/$script")
    fi
    local before; before=$(rss_kb "$QUILL_PID")
    d=$DURATION; backlog_db=""
    if [ "$script" = post_entry.lua ]; then
      d=$POST_DURATION; backlog_db=quill_bench
      start_quill_worker quill_bench
    fi
    DURATION=$d BACKLOG_DB=$backlog_db compare "$name" quill "http://127.0.0.1:58091" "$WRK/$script" "${peer_side[@]}"
    [ -z "$backlog_db" ] || stop_quill_worker
    [ "$script" = get_entry.lua ] && lookup_vs_pgbench
    row "quill-api RSS after $name | $(( $(rss_kb "$QUILL_PID") / 1024 )) MiB (idle $(( before / 1024 )) MiB) | | "
    [ "$script" = get_entry_key.lua ] && metered_check
    [ "$peer" = 0 ] || [ "$script" = get_entry_key.lua ] || { kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; }
    kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
  done
}

# After the metered reads: every request answered with a key has its row in the request log
# (quill-api flushes every 200 ms) and was counted once in its team's usage.
metered_check() {
  sleep 1
  local rows used
  rows=$(psql -X -tAq "$(pg_url quill_bench)" -c "SELECT count(*) FROM request_log WHERE billed")
  used=$(psql -X -tAq "$(pg_url quill_bench)" -c "SELECT coalesce(sum(used), 0) FROM usage_periods")
  row "metered reads recorded | $(commas "$rows") request-log rows, used $(commas "$used") | | "
  [ "$rows" = "$used" ] || log "request log ($rows billed rows) and used counts ($used) disagree"
}

# The goal for single-entry reads: the rate `pgbench -M prepared` reaches with the bare lookup
# statement and the same client count (tools/bench/lookup.pgbench), alternating with Quill.
lookup_vs_pgbench() {
  command -v pgbench >/dev/null || { log "no pgbench: skipping the bare-lookup comparison"; return; }
  local qr=() pr=() rps rest
  for _ in $(seq "$ROUNDS"); do
    read -r rps rest < <(wrk_run "http://127.0.0.1:58091" "$WRK/get_entry.lua")
    qr+=("$rps")
    rps=$(pgbench -n -M prepared -c 64 -j 2 -T "${DURATION%s}" -f "$ROOT/tools/bench/lookup.pgbench" \
      "$(pg_url quill_bench)" 2>&1 | tee -a "$OUT/pgbench.log" | awk '/^tps/ {print $3}')
    pr+=("${rps:-0}")
  done
  local qm pm
  qm=$(printf '%s\n' "${qr[@]}" | median); pm=$(printf '%s\n' "${pr[@]}" | median)
  row "GET one entry vs the bare lookup in pgbench -M prepared (64 clients) | quill $(printf '%.0f' "$qm") req/s | pgbench $(printf '%.0f' "$pm") tx/s | **$(awk -v a="$qm" -v b="$pm" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')x**"
}

# Logins run argon2id on the pool; /livez must stay fast on the loops meanwhile.
bench_login() {
  log "POST /v1/auth/login (argon2id) and /livez latency while logins saturate the pool"
  quill_seed
  start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  local n=64
  for i in $(seq $n); do
    curl -s -o /dev/null -X POST http://127.0.0.1:58091/v1/auth/signup -H 'content-type: application/json' \
      -d "{\"email\":\"bench-login-$i@example.com\",\"password\":\"bench password 123\",\"displayName\":\"B\"}"
  done
  local idle
  idle=$(wrk -t1 -c4 -d3s --latency http://127.0.0.1:58091/livez | awk '$1=="99%" {print $2}')
  wrk -t1 -c16 -d6s -s "$ROOT/tools/bench/wrk/login.lua" http://127.0.0.1:58091 -- $n > "$SCRATCH/login.txt" 2>&1 &
  local wpid=$!
  sleep 1
  local busy
  busy=$(wrk -t1 -c4 -d3s --latency http://127.0.0.1:58091/livez | awk '$1=="99%" {print $2}')
  wait $wpid
  cat "$SCRATCH/login.txt" >> "$OUT/wrk.log"
  local lps; lps=$(awk '/^Requests\/sec/ {print $2}' "$SCRATCH/login.txt")
  row "POST /v1/auth/login (argon2id, 16 connections) | $(printf '%.0f' "$lps") logins/s | | "
  row "GET /livez p99 while logins saturate the pool | $(to_ms "$busy") ms (idle: $(to_ms "$idle") ms) | | "
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
}

# The job queue: enqueue one at a time (10 in flight), in batches of 1,000, and drain with
# 10-way concurrency, quill-worker against graphile-worker and pg-boss, alternating.
bench_queue() {
  log "job queue: quill-worker vs graphile-worker and pg-boss (peers/queue-bench.js)"
  local jobs=${QUEUE_JOBS:-20000} rounds=${QUEUE_ROUNDS:-2} peers=()
  recreate_db quill_qbench
  DATABASE_URL=$(pg_url quill_qbench) QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$BUILD/apps/quill-migrate" up >/dev/null
  if peers_install; then
    recreate_db peers_queue
    peers=(graphile-worker pg-boss)
  fi
  local -A vals
  local line p m
  for r in $(seq "$rounds"); do
    line=$(DATABASE_URL=$(pg_url quill_qbench) "$BUILD/tools/bench/quill-queue-bench" --jobs "$jobs" \
      --worker "$BUILD/apps/quill-worker" --worker-log "$OUT/quill-worker.log" 2>>"$OUT/queue.log")
    echo "$line" >> "$OUT/queue.log"
    for m in enqueue_single_jobs_per_s enqueue_batch_jobs_per_s drain_jobs_per_s latency_p50_ms latency_p99_ms; do
      vals[quill.$m]+="$(kv "$line" $m) "
    done
    for p in "${peers[@]}"; do
      line=$(cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers_queue) timeout 300 node queue-bench.js "$p" --jobs "$jobs" 2>>"$OUT/queue.log") || true
      echo "$line" >> "$OUT/queue.log"
      for m in enqueue_single_jobs_per_s enqueue_batch_jobs_per_s drain_jobs_per_s; do
        vals[$p.$m]+="$(kv "$line" $m) "
      done
    done
  done
  med() { tr ' ' '\n' <<<"${vals[$1]:-}" | grep -E '^[0-9.]+$' | median; }
  local title q best bl pv
  for pair in "enqueue one at a time (10 in flight):enqueue_single_jobs_per_s" \
              "enqueue in batches of 1,000:enqueue_batch_jobs_per_s" \
              "drain, 10-way concurrency:drain_jobs_per_s"; do
    title=${pair%%:*}; m=${pair##*:}
    q=$(med "quill.$m"); best=0; bl=""
    local peer_txt=""
    for p in "${peers[@]}"; do
      pv=$(med "$p.$m")
      peer_txt+="$p $(printf '%.0f' "$pv") jobs/s; "
      if awk -v a="$pv" -v b="$best" 'BEGIN{exit !(a>b)}'; then best=$pv; bl=$p; fi
    done
    if [ -n "$bl" ]; then
      row "$title | quill $(printf '%.0f' "$q") jobs/s | ${peer_txt% } | **$(awk -v a="$q" -v b="$best" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')x** vs $bl"
    else
      row "$title | quill $(printf '%.0f' "$q") jobs/s | (no peer) | "
    fi
  done
  row "enqueue-to-claim latency, idle worker (NOTIFY) | p50 $(med quill.latency_p50_ms) ms, p99 $(med quill.latency_p99_ms) ms | | "
}

BENCH_SECRET=$(head -c 32 /dev/urandom | base64)
pg_start >/dev/null
create_db quill_bench
DATABASE_URL=$(pg_url quill_bench) QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$BUILD/apps/quill-migrate" up >/dev/null

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(livez me entries login queue)
{
  echo "Quill benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, rounds=$ROUNDS duration=$DURATION"
  echo
  echo "| benchmark | Quill | peer | ratio |"
  echo "|---|---|---|---|"
} | tee "$TABLE.head"
for n in "${names[@]}"; do
  case "$n" in
    livez) bench_livez ;;
    me) bench_me ;;
    entries) bench_entries ;;
    login) bench_login ;;
    queue) bench_queue ;;
    *) die "unknown benchmark: $n" ;;
  esac
done
cat "$TABLE.head" "$TABLE" > "$OUT/latest.md"
rm -f "$TABLE.head"
log "table written to tools/bench/results/latest.md"
