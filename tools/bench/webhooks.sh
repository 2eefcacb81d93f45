# tools/bench/webhooks.sh - the `webhooks` benchmark, sourced by tools/bench/bench.sh (which
# provides quill_seed, start_quill_api, start_quill_worker, settled_backlog, wrk_run, row...).
#
# Webhook deliveries to a receiver on loopback (tools/bench/webhook_sink.c, built as
# quill-webhook-sink: answers 204 at once), one endpoint per team subscribed to
# journal_entry.created, with QUILL_WEBHOOK_ALLOW_PRIVATE=1 (a loopback http target) and
# quill-worker's runners at QUILL_WORKER_CONCURRENCY=10: a delivery is one job of the queue
# "webhooks", so ten run at once.  No peer.  Two parts:
#
#   drain   with the worker stopped, WEBHOOK_DELIVERIES (20,000) changes of seeded entries
#           are written into the change log in one transaction (as POSTs would have), then
#           the worker starts and is timed until the backlog (jobs and unconsumed changes)
#           is 0: the fan-out consumer makes a delivery and a job per change, the runners
#           deliver them.  deliveries/s = deliveries that succeeded / time.  WEBHOOK_ROUNDS
#           (2) rounds, medians.
#   paced   with the worker running, POST entries for POST_DURATION through 8 connections
#           paced (tools/bench/wrk/post_paced.lua) to about WEBHOOK_RATE requests/s (default:
#           half the drain rate), every POST a delivery.  The backlog is read before and
#           after (settled, as for every write benchmark); deliveries/s is what succeeded
#           during the run; latency runs from an entry's created_at to the end of its
#           successful attempt (webhook_attempts.at + duration_ms).
WEBHOOK_PORT=58095

webhook_sink_start() {
  port_free "$WEBHOOK_PORT"
  "$BUILD/tools/bench/quill-webhook-sink" --port "$WEBHOOK_PORT" > "$SCRATCH/sink.out" 2>> "$OUT/webhooks.log" &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$WEBHOOK_PORT/ready" && return; sleep 0.05; done
  die "quill-webhook-sink did not start (see $OUT/webhooks.log)"
}

# Stop the sink; prints its result line.
webhook_sink_stop() {
  kill -TERM "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  grep '^result ' "$SCRATCH/sink.out" || true
}

# One endpoint for each of the 100 teams, registered by its owner through the API.
webhooks_register() {
  local t team code n=0
  while read -r t team; do
    code=$(curl -s -o "$SCRATCH/hook.json" -w '%{http_code}' -X POST "http://127.0.0.1:58091/v1/teams/$team/webhooks" \
      -H "Authorization: Bearer peer-token-$(( 10 * (t - 1) + 1 ))" -H 'content-type: application/json' \
      -d "{\"url\":\"http://127.0.0.1:$WEBHOOK_PORT/hooks/$t\",\"events\":[\"journal_entry.created\"]}")
    [ "$code" = 201 ] || die "registering a webhook for team $t answered $code: $(head -c 300 "$SCRATCH/hook.json")"
    n=$((n + 1))
  done < "$SCRATCH/teams.tsv"
  echo "$n"
}

webhook_sql() { psql -X -tAq -F ' ' "$(pg_url quill_bench)" -c "$1"; }

# Deliveries that succeeded, and failed attempts, so far.
webhook_counts() {
  webhook_sql "SELECT (SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'),
    (SELECT count(*) FROM webhook_attempts WHERE NOT ok)"
}

# webhook_drain N: write N changes with the worker stopped, then time the worker until the
# backlog is 0.  Sets DRAIN_RESULT to: deliveries seconds fanout_seconds failed_attempts
# backlog_at_start (not printed: the worker must be started in this shell, not a subshell).
webhook_drain() {
  local n=$1 s0 f0 s1 f1 b0 t0 t1 tf="" now line
  read -r s0 f0 <<<"$(webhook_counts)"
  webhook_sql "INSERT INTO changes (team_id, kind, event, entity_id)
    SELECT team_id, 1, 1, journal_entry_id FROM journal_entries ORDER BY created_at, journal_entry_id LIMIT $n" >/dev/null
  b0=$(backlog quill_bench)
  t0=$EPOCHREALTIME
  start_quill_worker quill_bench QUILL_WEBHOOK_ALLOW_PRIVATE=1 QUILL_WORKER_CONCURRENCY=10
  local deadline=$(( EPOCHSECONDS + ${DRAIN_TIMEOUT:-300} ))
  # the backlog, and what of it is changes no consumer has applied yet
  local q="SELECT ($BACKLOG_SQL), (SELECT coalesce(sum(n), 0) FROM ($BACKLOG_CHANGES) AS b(name, n))"
  while line=$(webhook_sql "$q" 2>/dev/null) || line="? ?"; [ "${line%% *}" != 0 ]; do
    now=$EPOCHREALTIME
    [ -n "$tf" ] || [ "${line##* }" != 0 ] || tf=$now
    [ "$EPOCHSECONDS" -lt "$deadline" ] || { log "webhooks: backlog still ${line%% *} after ${DRAIN_TIMEOUT:-300} s"; break; }
    sleep 0.05
  done
  t1=$EPOCHREALTIME
  stop_quill_worker
  read -r s1 f1 <<<"$(webhook_counts)"
  DRAIN_RESULT="$((s1 - s0)) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  DRAIN_RESULT+=" $(awk -v a="$t0" -v b="${tf:-$t1}" 'BEGIN { printf "%.2f", b - a }') $((f1 - f0)) $b0"
}

# p50 and p99, in ms, from created_at of the entries written between $1 and $2 (epoch
# seconds) to the end of their successful delivery attempt.
webhook_latency() {
  webhook_sql "SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1)::text, '-'),
      coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1)::text, '-'), count(*)
    FROM (SELECT extract(epoch FROM a.at - e.created_at) * 1000 + a.duration_ms AS ms
          FROM journal_entries e
          JOIN webhook_deliveries d ON (d.body::json -> 'data' ->> 'journalEntryId')::uuid = e.journal_entry_id
          JOIN webhook_attempts a ON a.delivery_id = d.delivery_id AND a.ok
          WHERE e.created_at >= to_timestamp($1) AND e.created_at < to_timestamp($2)) AS x"
}

bench_webhooks() {
  local n=${WEBHOOK_DELIVERIES:-20000} rounds=${WEBHOOK_ROUNDS:-2}
  log "webhooks: deliveries to a loopback receiver, one endpoint per team, 10 runners"
  : > "$OUT/webhooks.log"
  quill_seed
  start_quill_api 58091 "${QUILL_BENCH_ENV[@]}" QUILL_WEBHOOK_ALLOW_PRIVATE=1
  psql -X -tAq "$(pg_url quill_bench)" -c "SELECT substring(name FROM 11)::int, team_id FROM teams
    WHERE name LIKE 'Peer Team %' ORDER BY 1" | tr '|' ' ' > "$SCRATCH/teams.tsv"
  webhook_sink_start
  local hooks; hooks=$(webhooks_register)

  # drain
  local rates=() secs=() fans=() fails=() backlogs=() r d s f fail b0
  for r in $(seq "$rounds"); do
    webhook_drain "$n"
    read -r d s f fail b0 <<<"$DRAIN_RESULT"
    rates+=("$(awk -v d="$d" -v s="$s" 'BEGIN { printf "%.0f", (s > 0) ? d / s : 0 }')")
    secs+=("$s"); fans+=("$f"); fails+=("$fail"); backlogs+=("$(commas "$b0") -> $(commas "$(backlog quill_bench)")")
    echo "drain round $r: $d deliveries in $s s (fan-out done at $f s), $fail failed attempts, backlog $b0 -> $(backlog quill_bench)" >> "$OUT/webhooks.log"
    log "webhooks drain round $r: $d deliveries in $s s: ${rates[-1]}/s (fan-out done at $f s; $fail failed attempts)"
    [ "$d" = "$n" ] || log "webhooks drain round $r: $d deliveries succeeded of $n (see $OUT/quill-worker-beside-api.log)"
  done
  local rate fan; rate=$(printf '%s\n' "${rates[@]}" | median)
  fan=$(printf '%s\n' "${fans[@]}" | median)
  row "webhook deliveries to a loopback receiver, 10 runners: the worker works off $(commas "$n") new changes, one endpoint per team (median of $rounds) | $(commas "$(printf '%.0f' "$rate")") deliveries/s ($(printf '%s\n' "${secs[@]}" | median) s; the consumers (fan-out included) were through after $fan s, $(commas "$(awk -v n="$n" -v f="$fan" 'BEGIN { printf "%.0f", (f > 0) ? n / f : 0 }')") changes/s; failed attempts $(printf '%s ' "${fails[@]}" | sed 's/ $//'); backlog $(printf '%s; ' "${backlogs[@]}" | sed 's/; $//')) | (no peer) | "

  # paced writes, the worker running
  local target=${WEBHOOK_RATE:-$(awk -v r="$rate" 'BEGIN { printf "%.0f", r / 2 }')} conns=8
  [ "$target" -ge 1 ] 2>/dev/null || target=100
  local pause=$(( conns * 1000 / target )) line rps p50 p99 bad errs t0 t1 s0 s1 lat b1 grew=0 note=""
  start_quill_worker quill_bench QUILL_WEBHOOK_ALLOW_PRIVATE=1 QUILL_WORKER_CONCURRENCY=10
  wait_drained quill_bench
  # a short unmeasured run first, as for every write benchmark
  wrk -t2 -c"$conns" -d"$WARMUP" -s "$WRK/post_paced.lua" http://127.0.0.1:58091 -- "$pause" >> "$OUT/wrk.log" 2>&1 || true
  wait_drained quill_bench
  b0=$(settled_backlog quill_bench)
  read -r s0 _ <<<"$(webhook_counts)"
  t0=$EPOCHREALTIME
  line=$(wrk -t2 -c"$conns" -d"$POST_DURATION" --latency -s "$WRK/post_paced.lua" http://127.0.0.1:58091 -- "$pause" 2>&1) || true
  t1=$EPOCHREALTIME
  read -r s1 _ <<<"$(webhook_counts)"
  b1=$(settled_backlog quill_bench)
  printf '%s\n' "$line" >> "$OUT/wrk.log"
  line=$(grep '^result ' <<<"$line" || true)
  rps=$(kv "$line" requests_per_s); p50=$(kv "$line" p50_ms); p99=$(kv "$line" p99_ms)
  bad=$(kv "$line" non_2xx_3xx); errs=$(kv "$line" socket_errors)
  check_round "webhooks/paced POST" 1 "$bad" "$errs" - "$rps"
  wait_drained quill_bench
  lat=$(webhook_latency "$t0" "$t1")
  stop_quill_worker
  echo "paced: $line; deliveries $s0 -> $s1 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; backlog $b0 -> $b1; latency p50 p99 n: $lat" >> "$OUT/webhooks.log"
  awk -v a="$b0" -v b="$b1" 'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b + 0 <= a + 0) }' || grew=1
  [ "$grew" = 0 ] || note="(backlog grew: not a sustainable rate)"
  local dps; dps=$(awk -v a="$s0" -v b="$s1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.0f", (y > x) ? (b - a) / (y - x) : 0 }')
  local l50 l99 _n; read -r l50 l99 _n <<<"$lat"
  row "POST an entry paced to about $target/s (8 connections), a delivery each, quill-worker beside | POST $(printf '%.0f' "${rps:-0}") req/s (p50 ${p50:-?} / p99 ${p99:-?} ms); $(commas "$dps") deliveries/s; entry written -> delivered p50 $l50 / p99 $l99 ms; backlog $(commas "$b0") -> $(commas "$b1") | (no peer) | $note"

  local sink; sink=$(webhook_sink_stop)
  echo "sink: $sink ($hooks endpoints)" >> "$OUT/webhooks.log"
  read -r s1 f <<<"$(webhook_counts)"
  [ "$(kv "$sink" posts)" = "$s1" ] || log "webhooks: the receiver got $(kv "$sink" posts) POSTs, $s1 deliveries succeeded, $f attempts failed"
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
}
