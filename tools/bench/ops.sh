# tools/bench/ops.sh - the `pgbouncer`, `tracing` and `ab` benchmarks, sourced by tools/bench/bench.sh
# (which provides quill_seed, peers_setup, peer_start, start_quill_api, start_quill_worker,
# compare, row...).  Both answer an operational question with the entries' wrk scripts.
#
#   pgbouncer  Does the ratio to the Fastify peer hold with quill-api's pool behind PgBouncer?
#              For each of get_entry, list_entries and post_entry (as ENTRIES picks), on
#              freshly seeded databases, two quill-api at once: direct (58091) and with
#              DATABASE_URL at a local PgBouncer in transaction mode (58092; tools/lib.sh
#              pgbouncer_start: QUILL_PGBOUNCER_POOL server connections, 8 by default),
#              QUILL_DB_POOLER=pgbouncer and DATABASE_DIRECT_URL at PostgreSQL (LISTEN).  The
#              peer keeps its direct pg.Pool.  Three comparisons in one session: direct vs the
#              peer, behind PgBouncer vs the peer, and behind PgBouncer vs direct.  The goal
#              (the ratio to the peer at most 15 % lower behind PgBouncer) is judged on the
#              third: the peer's rate cancels out of the ratio of the two ratios, so measuring
#              the two quill-api against each other, alternated, leaves out the peer's own
#              drift between two sessions (which alone moved that ratio by 10 % from run to
#              run).  quill-worker, beside for POST, always takes the direct URL.  A PgBouncer
#              already running (tools/quill pgbouncer start) is used as it is.  Without the
#              peer, only the third comparison runs.  With PGBOUNCER_SPLIT=1, pgb_split then
#              tells the two costs apart for the reads (see there).
#   tracing    Does a collector that is down slow requests?  Three quill-api on one database
#              at once: tracing off (58091), tracing on with OTEL_EXPORTER_OTLP_ENDPOINT at a
#              closed loopback port (58092: the collector down), and tracing on with a live
#              collector (58093, exporting to quill-webhook-sink on 58097, which answers 204),
#              both sampling every request (OTEL_TRACES_SAMPLER=always_on).  For each route of
#              TRACING (get_entry post_entry), two comparisons against tracing off: down, and
#              live.  The counters of /metrics before and after each show the spans dropped
#              (collector down: they grow) and exported (live).
#
#   ab         Did a change move quill-api's speed?  This build against another build of
#              Quill (QUILL_BENCH_BASE: its build directory, with apps/quill-api and
#              apps/quill-worker, e.g. a git worktree of an older commit built with meson),
#              for each of list_entries and post_entry (as ENTRIES picks): both quill-api at
#              once on one freshly seeded database (this build on 58091, the base on 58092),
#              alternated; for POST each build's own quill-worker runs beside it through its
#              runs (and only then: a slower worker shows on its side).  No peer: the peer's
#              drift from run to run is larger than most changes.
PGB_FASTIFY="http://127.0.0.1:58081"

# Transactions PgBouncer passed to quill_bench, and the time clients waited for a server
# connection (µs), since it started: "xacts wait_us".
pgb_stats() {
  psql -X -tAq -F ' ' "postgresql://postgres@127.0.0.1:$PGB_PORT/pgbouncer" -c 'SHOW STATS' 2>/dev/null |
    awk '$1 == "quill_bench" { x = $2; w = $8 } END { print (x == "" ? 0 : x), (w == "" ? 0 : w) }'
}

pgb_up() {
  PGB_OURS=0
  [ -f "$DATA/pgbouncer/pgbouncer.pid" ] && kill -0 "$(cat "$DATA/pgbouncer/pgbouncer.pid")" 2>/dev/null ||
    PGB_OURS=1
  pgbouncer_start
}

pgb_down() {
  [ "$PGB_OURS" = 0 ] || pgbouncer_stop
  PGB_OURS=0
}

# quill-api's settings behind PgBouncer.
PGB_ENV=()
pgb_env() {
  PGB_ENV=(DATABASE_URL="postgresql://postgres@127.0.0.1:$PGB_PORT/quill_bench"
    DATABASE_DIRECT_URL="$(pg_url quill_bench)" QUILL_DB_POOLER=pgbouncer)
}

# ratio_of "rps p50 p99" "rps p50 p99" -> A's rate / B's, 2 decimals
ratio_of() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }


# ab_worker BUILD: quill-worker of BUILD beside, in place of the one running (if any).
ab_worker() {
  [ -z "${WORKER_PID:-}" ] || stop_quill_worker
  BUILD=$1 start_quill_worker quill_bench
}

bench_ab() {
  local base=${QUILL_BENCH_BASE:-}
  [ -n "$base" ] && [ -x "$base/apps/quill-api" ] && [ -x "$base/apps/quill-worker" ] ||
    die "bench ab: QUILL_BENCH_BASE must name another build directory (with apps/quill-api and apps/quill-worker)"
  log "ab: this build ($BUILD) against the base ($base)"
  local pair name script d backlog_db other
  for pair in "GET a page of 50:list_entries.lua" "POST an entry:post_entry.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${ENTRIES:-list_entries post_entry} " == *" ${script%.lua} "* ]] || continue
    d=$DURATION; backlog_db=""
    [ "$script" != post_entry.lua ] || { d=$POST_DURATION; backlog_db=quill_bench; }
    quill_seed
    BUILD=$base API_LOG=quill-api-base start_quill_api 58092 "${QUILL_BENCH_ENV[@]}"
    other=$QUILL_PID
    start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
    local pre_a="" pre_b=""
    [ -z "$backlog_db" ] || { pre_a="ab_worker $BUILD"; pre_b="ab_worker $base"; }
    CMP_PRE_A=$pre_a CMP_PRE_B=$pre_b DURATION=$d BACKLOG_DB=$backlog_db \
      compare "$name, this build vs the base" \
      this "http://127.0.0.1:58091" "$WRK/$script" base "http://127.0.0.1:58092" "$WRK/$script"
    [ -z "$backlog_db" ] || stop_quill_worker
    kill "$other" "$QUILL_PID"; wait "$other" "$QUILL_PID" 2>/dev/null || true
  done
}
bench_pgbouncer() {
  command -v pgbouncer >/dev/null || { log "pgbouncer: no pgbouncer installed: skipping"; return; }
  local peer=1
  if peers_setup; then
    log "pgbouncer: the entries comparisons with quill-api direct and behind PgBouncer (transaction mode)"
  else
    log "pgbouncer: no peer: quill-api behind PgBouncer against quill-api direct"
    peer=0
  fi
  pgb_env
  local pair name script d backlog_db rd rp pooled x0 w0 x1 w1 grew
  for pair in "GET one entry:get_entry.lua" "GET a page of 50:list_entries.lua" "POST an entry:post_entry.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${ENTRIES:-get_entry list_entries post_entry} " == *" ${script%.lua} "* ]] || continue
    d=$DURATION; backlog_db=""; rd=""; rp=""; grew=0
    [ "$script" != post_entry.lua ] || { d=$POST_DURATION; backlog_db=quill_bench; }
    quill_seed
    [ "$peer" = 0 ] || (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) ./seed.sh >/dev/null)
    pgb_up
    API_LOG=quill-api-pgbouncer start_quill_api 58092 "${QUILL_BENCH_ENV[@]}" "${PGB_ENV[@]}"
    pooled=$QUILL_PID
    API_LOG=quill-api-direct start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
    [ "$peer" = 0 ] || peer_start
    [ -z "$backlog_db" ] || start_quill_worker quill_bench
    read -r x0 w0 <<<"$(pgb_stats)"
    if [ "$peer" = 1 ]; then
      DURATION=$d BACKLOG_DB=$backlog_db compare "$name, Quill direct" \
        quill "http://127.0.0.1:58091" "$WRK/$script" fastify "$PGB_FASTIFY" "$WRK/$script"
      rd=$(ratio_of "$CMP_A" "$CMP_B"); [ "$CMP_GREW" = 0 ] || grew=1
      DURATION=$d BACKLOG_DB=$backlog_db compare "$name, Quill behind PgBouncer" \
        quill "http://127.0.0.1:58092" "$WRK/$script" fastify "$PGB_FASTIFY" "$WRK/$script"
      rp=$(ratio_of "$CMP_A" "$CMP_B"); [ "$CMP_GREW" = 0 ] || grew=1
    fi
    DURATION=$d BACKLOG_DB=$backlog_db compare "$name, Quill behind PgBouncer vs direct" \
      pgbouncer "http://127.0.0.1:58092" "$WRK/$script" direct "http://127.0.0.1:58091" "$WRK/$script"
    [ "$CMP_GREW" = 0 ] || grew=1
    read -r x1 w1 <<<"$(pgb_stats)"
    [ -z "$backlog_db" ] || stop_quill_worker
    pgb_row "$name" "$rd" "$rp" "$(ratio_of "$CMP_A" "$CMP_B")" "$x0" "$w0" "$x1" "$w1" "$grew"
    [ "$peer" = 0 ] || { kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; }
    kill "$pooled" "$QUILL_PID"; wait "$pooled" "$QUILL_PID" 2>/dev/null || true
    pgb_down
  done
  [ "${PGBOUNCER_SPLIT:-0}" = 0 ] || pgb_split
}

# Where a change behind PgBouncer comes from, for the reads: quill-api's pooler mode alone
# (QUILL_DB_POOLER=pgbouncer with DATABASE_URL at PostgreSQL itself: unnamed statements, no
# event-loop reads) against direct, then the hop through PgBouncer against that mode without
# it.  Three quill-api on one database at once (58091 direct, 58092 the mode alone, 58093
# behind PgBouncer), and PgBouncer's CPU time per transaction from /proc.
pgb_split() {
  log "pgbouncer: quill-api's pooler mode alone, and the hop through PgBouncer"
  quill_seed
  pgb_up
  local pid; pid=$(cat "$DATA/pgbouncer/pgbouncer.pid")
  API_LOG=quill-api-direct start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  local direct=$QUILL_PID
  API_LOG=quill-api-pooler-mode start_quill_api 58092 "${QUILL_BENCH_ENV[@]}" QUILL_DB_POOLER=pgbouncer \
    DATABASE_DIRECT_URL="$(pg_url quill_bench)"
  local mode=$QUILL_PID
  API_LOG=quill-api-pgbouncer start_quill_api 58093 "${QUILL_BENCH_ENV[@]}" "${PGB_ENV[@]}"
  local pooled=$QUILL_PID
  local pair name script c0 c1 x0 x1 _w
  for pair in "GET one entry:get_entry.lua" "GET a page of 50:list_entries.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${ENTRIES:-get_entry list_entries} " == *" ${script%.lua} "* ]] || continue
    compare "$name, QUILL_DB_POOLER=pgbouncer without PgBouncer vs direct" \
      pooler-mode "http://127.0.0.1:58092" "$WRK/$script" direct "http://127.0.0.1:58091" "$WRK/$script"
    read -r x0 _w <<<"$(pgb_stats)"
    c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    compare "$name, behind PgBouncer vs QUILL_DB_POOLER=pgbouncer without it" \
      pgbouncer "http://127.0.0.1:58093" "$WRK/$script" pooler-mode "http://127.0.0.1:58092" "$WRK/$script"
    c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    read -r x1 _w <<<"$(pgb_stats)"
    row "PgBouncer's CPU during $name behind it (warm-ups included) | $(awk -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" \
      'BEGIN { printf "%.1f", c / t }') s for $(commas $((x1 - x0))) transactions: $(awk -v c=$((c1 - c0)) \
      -v t="$(getconf CLK_TCK)" -v x=$((x1 - x0)) 'BEGIN { printf "%.1f", (x > 0) ? c / t / x * 1e6 : 0 }') µs each | | "
  done
  kill "$direct" "$mode" "$pooled"; wait "$direct" "$mode" "$pooled" 2>/dev/null || true
  pgb_down
}

# pgb_row NAME DIRECT_RATIO PGB_RATIO PGB_VS_DIRECT X0 W0 X1 W1 GREW: the two ratios to the peer
# (empty without the peer), the two quill-api against each other, what PgBouncer passed, and
# whether the goal (behind PgBouncer at most 15 % below direct) was met.
pgb_row() {
  local name=$1 rd=$2 rp=$3 rq=$4 x=$(($7 - $5)) w=$(($8 - $6)) change goal cell=""
  change=$(awk -v a="$rq" 'BEGIN { printf "%+.0f", (a - 1) * 100 }')
  [ -z "$rd" ] || cell="ratio to the peer: direct **${rd}x**, behind PgBouncer **${rp}x**; "
  cell+="behind PgBouncer / direct, alternated: **${rq}x**"
  if [ "$9" = 0 ] && [ "$change" -ge -15 ]; then goal="met"; else goal="not met"; fi
  [ "$9" = 0 ] || goal+=": the backlog grew"
  cell+="; PgBouncer passed $(commas "$x") transactions on ${QUILL_PGBOUNCER_POOL:-8} server connections"
  cell+=", clients waited $(awk -v w="$w" -v x="$x" 'BEGIN { printf "%.3f", (x > 0) ? w / x / 1000 : 0 }') ms a transaction for one"
  row "$name behind PgBouncer (transaction mode): the change against direct | $cell | | $change % (goal ≥ −15 %: $goal)"
}

# ---- tracing ------------------------------------------------------------------------------------
TRACE_DOWN_PORT=58096 # nothing listens here: the collector is down
TRACE_SINK_PORT=58097

# trace_counters PORT -> "requests exported queue_full export_failed rejected export_errors
# queued" from quill-api's /metrics (requests: every request it answered, of any route).
trace_counters() {
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
    /^quill_http_requests_total[{ ]/ { r += $NF }
    /^quill_trace_spans_exported_total / { e = $2 }
    /^quill_trace_spans_dropped_total\{reason="queue_full"\}/ { q = $2 }
    /^quill_trace_spans_dropped_total\{reason="export_failed"\}/ { f = $2 }
    /^quill_trace_spans_dropped_total\{reason="rejected"\}/ { j = $2 }
    /^quill_trace_export_errors_total / { x = $2 }
    /^quill_trace_queue_spans / { w = $2 }
    END { printf "%d %d %d %d %d %d %d\n", r, e, q, f, j, x, w }'
}

# trace_row NAME "counters before" "counters after": what the spans did during a comparison,
# with the traced side's latency against tracing off (CMP_A against CMP_B).
trace_row() {
  local r0 e0 q0 f0 j0 x0 w0 r1 e1 q1 f1 j1 x1 w1 a50 a99 b50 b99 _r
  read -r r0 e0 q0 f0 j0 x0 w0 <<<"$2"
  read -r r1 e1 q1 f1 j1 x1 w1 <<<"$3"
  read -r _r a50 a99 <<<"$CMP_A"
  read -r _r b50 b99 <<<"$CMP_B"
  # spans made: every one dropped, exported, or still queued
  local made=$(((q1 - q0) + (f1 - f0) + (j1 - j0) + (e1 - e0) + (w1 - w0))) req=$((r1 - r0))
  row "$1 | spans dropped $(commas "$q0") -> $(commas "$q1") queue full, $(commas "$f0") -> $(commas "$f1") export failed, $(commas "$j0") -> $(commas "$j1") rejected; exported $(commas "$e0") -> $(commas "$e1"), $(commas "$w1") queued; $((x1 - x0)) failed exports; $(commas "$req") requests answered, $(awk -v m="$made" -v r="$req" 'BEGIN { printf "%.2f", (r > 0) ? m / r : 0 }') spans each | | latency against tracing off: p50 $(awk -v a="$a50" -v b="$b50" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')x, p99 $(awk -v a="$a99" -v b="$b99" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')x"
}

bench_tracing() {
  log "tracing: quill-api with tracing off, on with the collector down, and on with a live collector"
  quill_seed
  # shellcheck disable=SC2034 # read by webhook_sink_start
  local WEBHOOK_PORT=$TRACE_SINK_PORT # the webhooks receiver (webhooks.sh) serves as the collector
  : > "$OUT/webhooks.log"
  webhook_sink_start
  port_free "$TRACE_DOWN_PORT" # nothing may answer where the collector is down
  local on=(OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=quill-api-bench)
  API_LOG=quill-api-tracing-off start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  local off=$QUILL_PID
  API_LOG=quill-api-collector-down start_quill_api 58092 "${QUILL_BENCH_ENV[@]}" "${on[@]}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$TRACE_DOWN_PORT"
  local down=$QUILL_PID
  # batches of 200 spans (about 0.7 KiB each) stay under the sink's 256 KiB request buffer
  API_LOG=quill-api-collector-live start_quill_api 58093 "${QUILL_BENCH_ENV[@]}" "${on[@]}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$TRACE_SINK_PORT" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=200
  local live=$QUILL_PID
  local pair name script d backlog_db c0 c1
  for pair in "GET one entry:get_entry.lua" "POST an entry:post_entry.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${TRACING:-get_entry post_entry} " == *" ${script%.lua} "* ]] || continue
    d=$DURATION; backlog_db=""
    if [ "$script" = post_entry.lua ]; then
      d=$POST_DURATION; backlog_db=quill_bench
      start_quill_worker quill_bench
    fi
    c0=$(trace_counters 58092)
    DURATION=$d BACKLOG_DB=$backlog_db compare "$name, tracing on (every request) with the collector down vs tracing off" \
      down "http://127.0.0.1:58092" "$WRK/$script" off "http://127.0.0.1:58091" "$WRK/$script"
    c1=$(trace_counters 58092)
    trace_row "$name: spans with the collector down" "$c0" "$c1"
    c0=$(trace_counters 58093)
    DURATION=$d BACKLOG_DB=$backlog_db compare "$name, tracing on (every request) with a live collector vs tracing off" \
      live "http://127.0.0.1:58093" "$WRK/$script" off "http://127.0.0.1:58091" "$WRK/$script"
    c1=$(trace_counters 58093)
    trace_row "$name: spans with a live collector" "$c0" "$c1"
    [ -z "$backlog_db" ] || stop_quill_worker
  done
  kill "$off" "$down" "$live"; wait "$off" "$down" "$live" 2>/dev/null || true
  echo "collector sink: $(webhook_sink_stop)" >> "$OUT/webhooks.log"
}
