#!/usr/bin/env bash
# tools/bench/bench.sh - Quill's benchmarks (run through `tools/quill bench [names...]`).
#
# Every HTTP benchmark runs wrk on loopback (-t2 -c64, bounded in time) against Quill and a
# reference peer in the same run, alternating A and B for several rounds, and prints the
# median ratio.  Absolute numbers drift on shared machines; ratios measured side by side
# hold.  Names: livez (vs nginx), me, entries (vs the Fastify + pg peer in ../shared/peers,
# when that folder exists; Quill's own figures otherwise), sync (delta pages against pages
# of entries), streams (live SSE streams under writes, tools/bench/stream_bench.c),
# webhooks (deliveries to a loopback receiver, tools/bench/webhooks.sh), login, queue (vs
# graphile-worker and pg-boss), pgbouncer (the entries comparisons with Quill direct and
# behind PgBouncer) and tracing (tracing off against on with the collector down, and with a
# live one), both in tools/bench/ops.sh.  Default: all.  The HTTP traffic comes from Quill's
# own wrk scripts (tools/bench/wrk/), the same against both sides.  Write benchmarks run
# quill-worker beside quill-api and report the backlog (jobs, and changes not yet read by
# each consumer of the change log) before and after each Quill run.  docs/benchmarks.md
# describes the method.
#
# Environment: ROUNDS (3), DURATION (5s per run; POST_DURATION 10s for POST), WARMUP (2s); DRAIN_TIMEOUT
# (300 s: longest wait for quill-worker to drain the backlog between write runs); BACKLOG_SETTLE (1.5 s:
# the pause after a write run before the backlog is read); ENTRIES picks among get_entry get_entry_key
# (the same reads with API keys, metered, against sessions) list_entries post_entry; PEERS_POOL (10)
# sizes the Fastify peer's pg.Pool; STREAMS (1000), STREAM_SECONDS (10), STREAM_INTERVAL_MS (10)
# and STREAM_ROUNDS (2) for the streams; WEBHOOK_DELIVERIES (20000), WEBHOOK_ROUNDS (2) and
# WEBHOOK_RATE (half the drain rate) for the webhooks; QUEUE_JOBS (20000) and QUEUE_ROUNDS (2)
# for the queue; QUILL_PGBOUNCER_POOL (8) and PGBOUNCER_SPLIT for pgbouncer; TRACING
# (get_entry post_entry) for tracing.
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
  [ "${PGB_OURS:-0}" = 0 ] || pgbouncer_stop
  wait 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

TABLE="$OUT/table.md"
: > "$TABLE"
: > "$OUT/quill-worker-beside-api.log"
row() { printf '| %s |\n' "$*" | tee -a "$TABLE"; }

WRK="$ROOT/tools/bench/wrk"

# kv LINE KEY -> the value of KEY=value in a result line
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }

# pg_ticks: the CPU time (user and system, in clock ticks) PostgreSQL has used so far: every
# running PostgreSQL process's own, and what its children that ended used (a postmaster's
# backends and autovacuum workers come and go; an autovacuum worker that ends within a run
# would otherwise take its time out of the sum).
pg_ticks() {
  local t=0 f s
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2>/dev/null || continue
    [[ $s == *" (postgres) "* ]] || continue
    s=${s##*) }
    read -r -a s <<<"$s"
    t=$((t + s[11] + s[12] + s[13] + s[14])) # utime, stime, cutime, cstime: stat(5) 14 to 17
  done
  echo "$t"
}

# wrk_run URL [script] [args...] -> prints one line:
#   rps p50_ms p99_ms non2xx socket_errors warm_non2xx backlog_before backlog_after pg_us
# pg_us is PostgreSQL's CPU time per answer during the measured run, in µs: every server
# process's (quill-worker's work included), so less of the machine's drift than the rate.
# The warm-up runs the script with BENCH_CHECK=1, which looks at every status: warm_non2xx
# counts its answers outside 200..299 ("-" without a script, "?" if it printed no result).
# With BACKLOG_DB set, the backlog of that database (see backlog below) is read after the
# warm-up and after the measured run, each time BACKLOG_SETTLE seconds after the load stopped
# ("-" otherwise).
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
  [ -z "${BACKLOG_DB:-}" ] || b0=$(settled_backlog "$BACKLOG_DB")
  local t0 t1 c0 c1 pg_us
  t0=$EPOCHREALTIME; c0=$(pg_ticks)
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "${sargs[@]}" "$url" -- "$@" 2>&1) || true
  c1=$(pg_ticks); t1=$EPOCHREALTIME
  [ -z "${BACKLOG_DB:-}" ] || b1=$(settled_backlog "$BACKLOG_DB")
  printf '%s\n' "$out" >> "$OUT/wrk.log"
  if r=$(grep '^result ' <<<"$out"); then
    pg_us=$(pg_us_per "$((c1 - c0))" "$t0" "$t1" "$(kv "$r" requests_per_s)")
    printf '%s %s %s %s %s %s %s %s %s\n' "$(kv "$r" requests_per_s)" "$(kv "$r" p50_ms)" "$(kv "$r" p99_ms)" \
      "$(kv "$r" non_2xx_3xx)" "$(kv "$r" socket_errors)" "$warm" "$b0" "$b1" "$pg_us"
    return
  fi
  local rps p50 p99 non2xx errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  errs=$(awk '/Socket errors/ {s=0; for(i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out"); errs=${errs:-0}
  pg_us=$(pg_us_per "$((c1 - c0))" "$t0" "$t1" "${rps:-0}")
  printf '%s %s %s %s %s %s %s %s %s\n' "${rps:-0}" "$(to_ms "$p50")" "$(to_ms "$p99")" "$non2xx" "$errs" "$warm" "$b0" "$b1" "$pg_us"
}

# pg_us_per TICKS T0 T1 RPS -> µs of PostgreSQL CPU per answer (wrk's rate over T1 - T0 s)
pg_us_per() {
  awk -v c="$1" -v a="$2" -v b="$3" -v r="$4" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { n = r * (b - a); printf "%.0f", (n > 0) ? c / hz * 1e6 / n : 0 }'
}

to_ms() {
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# port_free PORT: die when something answers there already.  quill-api listens with
# SO_REUSEPORT, so a leftover server on the same port would silently take half the traffic.
# Then wait (up to 70 s) until the port can be bound: the benchmark ports lie in the
# kernel's range of ephemeral ports, and a client connection that used one of them as its
# own port (a webhook delivery, a stream, a wrk connection) keeps it in TIME_WAIT for 60 s
# after it closed first, and no server can listen there meanwhile.
port_free() {
  ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/livez" || die "127.0.0.1:$1 is taken by another server: stop it first"
  local said=0
  for _ in $(seq 70); do
    python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null && return
    [ "$said" = 1 ] || log "127.0.0.1:$1 is held by a closed connection (TIME_WAIT): waiting"
    said=1
    sleep 1
  done
  die "127.0.0.1:$1 cannot be bound"
}

start_quill_api() {
  local port=$1; shift
  port_free "$port"
  env DATABASE_URL="$(pg_url "${BENCH_DB:-quill_bench}")" QUILL_SECRET="$BENCH_SECRET" \
    QUILL_LISTEN=127.0.0.1:$port QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$@" \
    "$BUILD/apps/quill-api" > "$OUT/${API_LOG:-quill-api}.log" 2>&1 &
  QUILL_PID=$!
  PIDS+=("$QUILL_PID")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/livez" >/dev/null && return; sleep 0.05; done
  die "quill-api did not start (see $OUT/quill-api.log)"
}

# ---- quill-worker beside quill-api, and the backlog ----------------------------------------------
# A write rate counts only if the work it leaves behind is done as fast as it comes: Quill's
# POST records a change with every entry (the change log, read by the worker's consumers:
# the activity counts and the webhook fan-out), and other writes enqueue jobs (a webhook
# delivery is one).  So write benchmarks run quill-worker (same database and secret as the
# API) throughout, and report the backlog.

# The backlog: jobs not finished yet (waiting, running, or failed and waiting to retry) plus,
# for every consumer of the change log (change_consumers), the changes after its position.
BACKLOG_JOBS="SELECT count(*) FROM jobs WHERE state IN ('available', 'running', 'failed')"
BACKLOG_CHANGES="SELECT p.name, (SELECT count(*) FROM changes c WHERE (c.txid, c.seq) > (p.txid, p.seq)) \
  FROM change_consumers p"
BACKLOG_SQL="SELECT ($BACKLOG_JOBS) + (SELECT coalesce(sum(n), 0) FROM ($BACKLOG_CHANGES) AS b(name, n))"
backlog() { psql -X -tAq "$(pg_url "$1")" -c "$BACKLOG_SQL" 2>/dev/null || echo '?'; }
# "jobs 12, changes activity 0 webhooks 30": the parts, for the log.
backlog_parts() {
  psql -X -tAq -F ' ' "$(pg_url "$1")" -c "SELECT 'jobs', ($BACKLOG_JOBS) UNION ALL ($BACKLOG_CHANGES ORDER BY 1)" \
    2>/dev/null | awk 'NR == 1 {printf "jobs %s, changes", $2; next} {printf " %s %s", $1, $2} END {print ""}'
}

# The backlog BACKLOG_SETTLE seconds (1.5 by default) after a load stopped; the count at the
# moment of the stop, and the parts of both, go to the log.  Right at the stop the backlog
# is whatever the worker had not reached yet: its consumers read in passes 20 ms apart, only
# changes of transactions older than every running one, and a notification that arrives
# during their pause is lost, so the last changes of a burst can wait for their 1 s poll.
# That count is noise of 0 to a few hundred either way, which would make "no larger at the
# end than at the start" a coin toss.  After the pause both ends are read alike, and a
# worker that cannot keep up still shows: it leaves (write rate - its rate) x run time
# behind, of which it clears BACKLOG_SETTLE x its rate (the drain row of the entries
# benchmark says what that rate is).
settled_backlog() {
  local raw rawp; raw=$(backlog "$1"); rawp=$(backlog_parts "$1")
  sleep "${BACKLOG_SETTLE:-1.5}"
  local n; n=$(backlog "$1")
  printf 'backlog %s at the stop (%s), %s after %s s (%s)\n' "$raw" "$rawp" "$n" "${BACKLOG_SETTLE:-1.5}" \
    "$(backlog_parts "$1")" >> "$OUT/backlog.log"
  echo "$n"
}

discarded() { psql -X -tAq "$(pg_url "$1")" -c "SELECT count(*) FROM jobs WHERE state = 'discarded'" 2>/dev/null || echo '?'; }

# start_quill_worker DB [VAR=value...]: quill-worker on DB, with the settings given.
start_quill_worker() {
  local db=$1; shift
  env DATABASE_URL="$(pg_url "$db")" QUILL_SECRET="$BENCH_SECRET" QUILL_WORKER_LISTEN=off \
    QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$@" "$BUILD/apps/quill-worker" >> "$OUT/quill-worker-beside-api.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
  sleep 0.5
  kill -0 "$WORKER_PID" 2>/dev/null || die "quill-worker did not start (see $OUT/quill-worker-beside-api.log)"
}

stop_quill_worker() {
  kill -TERM "$WORKER_PID" 2>/dev/null || true
  wait "$WORKER_PID" 2>/dev/null || true
}

# wait_drained DB: wait (up to DRAIN_TIMEOUT seconds, 300 by default) until the backlog
# (jobs and unconsumed changes) is 0.
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

# check_round LABEL ROUND NON2XX ERRORS WARM_NON2XX [RATE]: say what went wrong in a round.
check_round() {
  local what=""
  case "${6:-}" in 0|0.0|0.00) what+=" no answer at all," ;; esac
  [ "${3:-0}" = 0 ] || what+=" $3 answers above 399,"
  [ "${4:-0}" = 0 ] || what+=" $4 socket errors,"
  case "${5:--}" in 0|-) ;; *) what+=" $5 warm-up answers outside 2xx," ;; esac
  [ -z "$what" ] || log "$1 round $2:${what%,}"
}

# compare NAME A_LABEL A_URL A_SCRIPT B_LABEL B_URL B_SCRIPT [wrk args...]
# Runs ROUNDS alternating rounds, A then B; prints a table row with medians and the ratio A/B.
# With B_LABEL empty, A runs alone (no peer).  Leaves the medians in CMP_A and CMP_B ("rps p50
# p99"; CMP_B empty without B) and CMP_GREW=1 when the backlog grew, for the caller.  With
# BACKLOG_DB set (a write benchmark, with quill-worker running on that database), A's cell
# shows the backlog before -> after each of its measured runs, and the bench waits for the
# worker to drain the backlog before every run, so that A's leftover work never lands on B's
# time.  If the backlog grew in any round, the row says so: that rate is not sustainable and
# is not a result.  CMP_PRE_A and CMP_PRE_B, when set, name commands run before each of A's
# and B's runs (ab: each build's own quill-worker beside it).
compare() {
  local name=$1 al=$2 au=$3 as=$4 bl=$5 bu=$6 bs=$7; shift 7
  local ar=() br=() a99=() b99=() a50=() b50=() apg=() bpg=() backlogs=() grew=0
  local rps p50 p99 bad errs warm b0 b1 pg d0 d1
  [ -z "${BACKLOG_DB:-}" ] || d0=$(discarded "$BACKLOG_DB")
  for r in $(seq "$ROUNDS"); do
    [ -z "${CMP_PRE_A:-}" ] || $CMP_PRE_A
    [ -z "${BACKLOG_DB:-}" ] || wait_drained "$BACKLOG_DB"
    read -r rps p50 p99 bad errs warm b0 b1 pg < <(wrk_run "$au" "$as" "$@")
    check_round "$name/$al" "$r" "$bad" "$errs" "$warm" "$rps"
    ar+=("$rps"); a50+=("$p50"); a99+=("$p99"); apg+=("$pg")
    if [ -n "${BACKLOG_DB:-}" ]; then
      backlogs+=("$(commas "$b0") -> $(commas "$b1")")
      log "$name/$al round $r: backlog $b0 -> $b1"
      awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b + 0 <= a + 0) }' || grew=1
    fi
    [ -n "$bl" ] || continue
    [ -z "${CMP_PRE_B:-}" ] || $CMP_PRE_B
    [ -z "${BACKLOG_DB:-}" ] || wait_drained "$BACKLOG_DB"
    read -r rps p50 p99 bad errs warm b0 b1 pg < <(wrk_run "$bu" "$bs" "$@")
    check_round "$name/$bl" "$r" "$bad" "$errs" "$warm" "$rps"
    br+=("$rps"); b50+=("$p50"); b99+=("$p99"); bpg+=("$pg")
    log "$name round $r: $al ${ar[-1]} req/s (p99 ${a99[-1]} ms, PostgreSQL ${apg[-1]} µs/req), $bl $rps req/s (p99 $p99 ms, PostgreSQL $pg µs/req)"
  done
  local am a99m a50m acell bcell ratio
  am=$(printf '%s\n' "${ar[@]}" | median)
  a50m=$(printf '%s\n' "${a50[@]}" | median); a99m=$(printf '%s\n' "${a99[@]}" | median)
  acell="$al $(printf '%.0f' "$am") req/s (p50 $a50m / p99 $a99m ms; PostgreSQL $(printf '%s\n' "${apg[@]}" | median) µs/req"
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
    bcell="$bl $(printf '%.0f' "$bm") req/s (p50 $b50m / p99 $b99m ms; PostgreSQL $(printf '%s\n' "${bpg[@]}" | median) µs/req)"
    ratio="**$(awk -v a="$am" -v b="$bm" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')x**"
  else
    bcell="(no peer)"; ratio=""
  fi
  CMP_A="$am $a50m $a99m"; CMP_B=""; CMP_GREW=$grew
  [ -z "$bl" ] || CMP_B="$bm $b50m $b99m"
  [ "$grew" = 0 ] || ratio="${ratio:+$ratio }(backlog grew: not a sustainable rate)"
  local goal=${GOALS[$name]:-} goaltext
  if [ -n "$goal" ] && [ -n "$bl" ]; then
    goaltext="goal ≥ ${goal}×${GOAL_P99[$name]:+ with a lower p99}"
    if [ "$grew" = 0 ] && awk -v a="$am" -v b="$bm" -v g="$goal" -v p="${GOAL_P99[$name]:-}" \
        -v a99="$a99m" -v b99="$b99m" 'BEGIN { exit !(b > 0 && a / b >= g && (p == "" || a99 < b99)) }'; then
      ratio+=" ($goaltext: met)"
    else
      # 1.995 rounds to 2.00: say the third digit, or "2.00x (not met)" reads as a mistake.
      ratio=$(awk -v r="$ratio" -v a="$am" -v b="$bm" -v g="$goal" 'BEGIN {
        if (b > 0 && a / b < g && sprintf("%.2f", a / b) + 0 >= g) sub(/[0-9.]+x/, sprintf("%.3fx", a / b), r)
        print r }')
      ratio+=" ($goaltext: not met)"
    fi
  fi
  row "$name | $acell | $bcell | $ratio"
}

# The goals of issue 11, by comparison name: the least ratio that meets it.  A write rate
# whose backlog grew never meets its goal.
declare -A GOALS=(
  ["POST an entry"]=2
  ["GET a delta page of 50 changes vs a page of 50 entries, both Quill"]=1
)
# The comparisons whose goal also asks for a lower p99 than the peer's.
declare -A GOAL_P99=(["POST an entry"]=1)

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
  port_free 58090
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
  port_free 58081
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
    if [ -n "${BENCH_EXTRA_SQL:-}" ]; then cat "$BENCH_EXTRA_SQL"; fi
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
# quill-worker runs beside quill-api and the backlog is reported (see compare); after it,
# consumer_drain measures how fast the worker works off a backlog.
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
    [ -z "$backlog_db" ] || { stop_quill_worker; consumer_drain; }
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

# How fast quill-worker works off a backlog, for the POST rows' "no backlog growth": POST for
# POST_DURATION with the worker stopped, then start it and time it (from its start) until
# the backlog is 0.  Its rate against the POST rate is the headroom.  Expects quill-api on
# 58091 with the worker stopped.
consumer_drain() {
  local out r rps n t0 t1 rate
  out=$(wrk -t2 -c64 -d"$POST_DURATION" -s "$WRK/post_entry.lua" http://127.0.0.1:58091 2>&1) || true
  printf '%s\n' "$out" >> "$OUT/wrk.log"
  r=$(grep '^result ' <<<"$out" || true); rps=$(kv "$r" requests_per_s)
  n=$(backlog quill_bench)
  t0=$EPOCHREALTIME
  start_quill_worker quill_bench
  local deadline=$(( ${EPOCHSECONDS} + ${DRAIN_TIMEOUT:-300} ))
  while [ "$(backlog quill_bench)" != 0 ] && [ "$EPOCHSECONDS" -lt "$deadline" ]; do sleep 0.05; done
  t1=$EPOCHREALTIME
  stop_quill_worker
  rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b > a) ? n / (b - a) : 0 }')
  log "quill-worker drained $n changes and jobs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  row "quill-worker drains what $POST_DURATION of POST left with it stopped | $(commas "$n") in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $(commas "$rate") changes/s (POST ran at ${rps:-?} req/s) | | $(awk -v a="$rate" -v b="${rps:-0}" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')x the POST rate"
}

# ---- delta sync ---------------------------------------------------------------------------------
# A delta page of 50 changes against a page of 50 entries, on one data set: the entries of
# SEED.md, each with the change that created it (tools/bench/seed_changes.sql: 1,000
# transactions of 100, so each team's feed holds 1,000 changes).  The cursors come from the
# API (tools/bench/sync_cursors.py): a snapshot's last cursor, taken before the changes are
# written, then every team's feed paged once by 50; each cursor kept has a full page after
# it.  tools/bench/wrk/sync_delta.lua replays those pages (20 per team) as the team's users;
# list_entries.lua reads the newest 50 entries (the goal's comparison), then, with
# ENTRY_CURSORS, every page of entries across the same 1,000 entries per team (the same
# rows, as cold or warm as the delta pages').  Between the two, a comparison reads the
# same rows at the head: each team's last cursor (a client one page behind: its newest
# 50 changes) against its newest page of entries.  Read-only, so no worker; compared
# against Quill's own page of entries and against the Fastify peer's.
bench_sync() {
  log "sync: a delta page of 50 changes vs a page of 50 entries (Quill's and the Fastify peer's)"
  quill_seed
  start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  psql -X -tAq "$(pg_url quill_bench)" -c "SELECT substring(name FROM 11)::int, team_id FROM teams
    WHERE name LIKE 'Peer Team %' ORDER BY 1" | tr '|' ' ' > "$SCRATCH/teams.tsv"
  local start
  start=$(python3 "$ROOT/tools/bench/sync_cursors.py" start http://127.0.0.1:58091 < "$SCRATCH/teams.tsv")
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$(pg_url quill_bench)" \
    -f "$ROOT/tools/bench/seed_changes.sql" >/dev/null
  python3 "$ROOT/tools/bench/sync_cursors.py" collect http://127.0.0.1:58091 "$start" 50 \
    < "$SCRATCH/teams.tsv" > "$SCRATCH/cursors.tsv"
  export SYNC_CURSORS="$SCRATCH/cursors.tsv"
  compare "GET a delta page of 50 changes vs a page of 50 entries, both Quill" \
    delta "http://127.0.0.1:58091" "$WRK/sync_delta.lua" entries "http://127.0.0.1:58091" "$WRK/list_entries.lua"
  # What the kept pages (QUILL_SYNC_CACHE_MB) give: the same pages from a second quill-api
  # that keeps none, and reads every page.
  local kept_pid=$QUILL_PID
  API_LOG=quill-api-nocache start_quill_api 58092 "${QUILL_BENCH_ENV[@]}" QUILL_SYNC_CACHE_MB=0
  compare "GET a delta page of 50 changes, pages kept (the default) vs every page read (QUILL_SYNC_CACHE_MB=0)" \
    kept "http://127.0.0.1:58091" "$WRK/sync_delta.lua" read "http://127.0.0.1:58092" "$WRK/sync_delta.lua"
  compare "GET a delta page of 50 changes, every page read (QUILL_SYNC_CACHE_MB=0), vs a page of 50 entries" \
    delta "http://127.0.0.1:58092" "$WRK/sync_delta.lua" entries "http://127.0.0.1:58091" "$WRK/list_entries.lua"
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
  QUILL_PID=$kept_pid
  awk '{last[$1] = $0} END {for (t in last) print last[t]}' "$SCRATCH/cursors.tsv" | sort -n \
    > "$SCRATCH/head_cursors.tsv"
  SYNC_CURSORS="$SCRATCH/head_cursors.tsv" \
    compare "GET a delta page of each team's newest 50 changes vs its newest page of 50 entries (the same rows), both Quill" \
    delta "http://127.0.0.1:58091" "$WRK/sync_delta.lua" entries "http://127.0.0.1:58091" "$WRK/list_entries.lua"
  python3 "$ROOT/tools/bench/sync_cursors.py" entries http://127.0.0.1:58091 50 \
    < "$SCRATCH/teams.tsv" > "$SCRATCH/entry_cursors.tsv"
  ENTRY_CURSORS="$SCRATCH/entry_cursors.tsv" \
    compare "GET a delta page of 50 changes vs a page of 50 entries from across the same history, both Quill" \
    delta "http://127.0.0.1:58091" "$WRK/sync_delta.lua" entries "http://127.0.0.1:58091" "$WRK/list_entries.lua"
  if peers_setup; then
    (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) ./seed.sh >/dev/null)
    peer_start
    compare "GET a delta page of 50 changes (Quill) vs a page of 50 entries (Fastify + pg)" \
      quill "http://127.0.0.1:58091" "$WRK/sync_delta.lua" fastify "http://127.0.0.1:58081" "$WRK/list_entries.lua"
    kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true
  fi
  unset SYNC_CURSORS
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
}

# ---- live streams --------------------------------------------------------------------------------
# STREAMS (1,000) SSE streams on one quill-api, all on team 1 (round-robin over its 10
# members' tokens), while one POST every STREAM_INTERVAL_MS (10 ms) for STREAM_SECONDS (10 s)
# goes to the same team, so every write fans out to every stream: 100,000 events a second.
# tools/bench/stream_bench.c does the client side (see its comment); quill-worker runs beside,
# and the backlog is read before and after.  Each of STREAM_ROUNDS rounds gets a fresh
# quill-api, so that its RSS starts from the same place; the row gives the medians.
bench_streams() {
  local n=${STREAMS:-1000} secs=${STREAM_SECONDS:-10} every=${STREAM_INTERVAL_MS:-10}
  log "streams: $n SSE streams on one team, a POST every $every ms for $secs s, quill-worker beside"
  quill_seed
  local team; team=$(psql -X -tAq "$(pg_url quill_bench)" -c "SELECT team_id FROM teams WHERE name = 'Peer Team 1'")
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  local -A vals
  local line b0 b1 backlogs=() grew=0 died=0 m
  for r in $(seq "${STREAM_ROUNDS:-2}"); do
    start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
    start_quill_worker quill_bench
    wait_drained quill_bench
    b0=$(settled_backlog quill_bench)
    line=$(timeout $(( secs + 120 )) "$BUILD/tools/bench/quill-stream-bench" --port 58091 --team "$team" \
      --pid "$QUILL_PID" --streams "$n" --users 1-10 --writer 1 --interval-ms "$every" --seconds "$secs" \
      2>>"$OUT/streams.log" | grep '^result ') || true
    b1=$(settled_backlog quill_bench)
    echo "round $r: $line" >> "$OUT/streams.log"
    backlogs+=("$(commas "$b0") -> $(commas "$b1")")
    awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b + 0 <= a + 0) }' || grew=1
    if ! kill -0 "$QUILL_PID" 2>/dev/null; then
      died=1
      log "streams round $r: quill-api DIED (see $OUT/quill-api.log and dmesg)"
    fi
    [ -n "$line" ] || log "streams round $r: no result (see $OUT/streams.log)"
    for m in events expected sent_p50_ms sent_p99_ms answered_p50_ms answered_p99_ms post_p50_ms post_p99_ms \
             per_stream_open_b per_stream_busy_b rss_idle_kib api_cpu_s client_cpu_s write_s writes late; do
      vals[$m]+="$(kv "$line" $m) "
    done
    log "streams round $r: $(kv "$line" events) of $(kv "$line" expected) events, sent->event p50 $(kv "$line" sent_p50_ms) / p99 $(kv "$line" sent_p99_ms) ms, $(kv "$line" per_stream_open_b) B per open stream, backlog $b0 -> $b1"
    stop_quill_worker
    kill "$QUILL_PID" 2>/dev/null || true; wait "$QUILL_PID" 2>/dev/null || true
  done
  med() { tr ' ' '\n' <<<"${vals[$1]:-}" | grep -E '^-?[0-9.]+$' | median; }
  ms() { printf '%.1f' "$(med "$1")"; }
  local kib_open kib_busy cpu note=""
  kib_open=$(awk -v b="$(med per_stream_open_b)" 'BEGIN { printf "%.1f", b / 1024 }')
  kib_busy=$(awk -v b="$(med per_stream_busy_b)" 'BEGIN { printf "%.1f", b / 1024 }')
  cpu=$(awk -v c="$(med api_cpu_s)" -v s="$(med write_s)" 'BEGIN { printf "%.2f", (s > 0) ? c / s : 0 }')
  [ "$grew" = 0 ] || note=" (backlog grew: not a sustainable rate)"
  [ "$died" = 0 ] || note+=" (quill-api crashed in a round)"
  row "$n SSE streams on one team, a POST every $every ms fanned out to all (medians of ${STREAM_ROUNDS:-2} rounds) | $(commas "$(printf '%.0f' "$(med events)")") of $(commas "$(printf '%.0f' "$(med expected)")") events delivered; POST sent -> event p50 $(ms sent_p50_ms) / p99 $(ms sent_p99_ms) ms; 201 answered -> event p50 $(ms answered_p50_ms) / p99 $(ms answered_p99_ms) ms; POST p50 $(ms post_p50_ms) / p99 $(ms post_p99_ms) ms; backlog $(printf '%s; ' "${backlogs[@]}" | sed 's/; $//') | (no peer) | $note"
  row "quill-api RSS per SSE stream ((RSS with the streams - idle RSS) / $n; bar < 16 KiB) | $kib_open KiB with the streams open, $kib_busy KiB at the end of the writes (idle $(( $(med rss_idle_kib) / 1024 )) MiB) | | $(awk -v a="$kib_open" 'BEGIN { print (a < 16) ? "open: under the bar" : "open: over the bar" }'); $(awk -v a="$kib_busy" 'BEGIN { print (a < 16) ? "writing: under" : "writing: over" }')"
  row "CPU while $n streams take $(( 1000 / every )) writes/s | quill-api $cpu cores; the client $(awk -v c="$(med client_cpu_s)" -v s="$(med write_s)" 'BEGIN { printf "%.2f", (s > 0) ? c / s : 0 }') cores | | "
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
    line=$(DATABASE_URL=$(pg_url quill_qbench) QUILL_SECRET="$BENCH_SECRET" "$BUILD/tools/bench/quill-queue-bench" --jobs "$jobs" \
      --worker "$BUILD/apps/quill-worker" --worker-log "$OUT/quill-worker.log" 2>>"$OUT/queue.log")
    echo "$line" >> "$OUT/queue.log"
    [ "$(kv "$line" partial)" = none ] || log "queue round $r: quill's run was cut short ($(kv "$line" partial); see $OUT/queue.log and $OUT/quill-worker.log)"
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

. "$ROOT/tools/bench/webhooks.sh"
. "$ROOT/tools/bench/ops.sh"

BENCH_SECRET=$(head -c 32 /dev/urandom | base64)
pg_start >/dev/null
create_db quill_bench
DATABASE_URL=$(pg_url quill_bench) QUILL_MIGRATIONS_DIR="$ROOT/migrations" "$BUILD/apps/quill-migrate" up >/dev/null

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(livez me entries sync streams webhooks login queue pgbouncer tracing)
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
    sync) bench_sync ;;
    streams) bench_streams ;;
    webhooks) bench_webhooks ;;
    login) bench_login ;;
    queue) bench_queue ;;
    pgbouncer) bench_pgbouncer ;;
    ab) bench_ab ;;
    tracing) bench_tracing ;;
    *) die "unknown benchmark: $n" ;;
  esac
done
cat "$TABLE.head" "$TABLE" > "$OUT/latest.md"
rm -f "$TABLE.head"
log "table written to tools/bench/results/latest.md"
