#!/usr/bin/env bash
# tools/bench/bench.sh - Quill's benchmarks (run through `tools/quill bench [names...]`).
#
# Every benchmark runs wrk on loopback (-t2 -c64, bounded in time) against Quill and a
# reference peer in the same run, alternating A and B for several rounds, and prints the
# median ratio.  Absolute numbers drift on shared machines; ratios measured side by side
# hold.  Names: livez (vs nginx), me, entries (vs the Fastify + pg peer in ../shared/peers,
# when that folder exists), queue (vs graphile-worker and pg-boss).  Default: all.
#
# Environment: ROUNDS (3), DURATION (5s per run; POST_DURATION 10s for POST), WARMUP (2s); ENTRIES picks among
# get_entry list_entries post_entry; PEERS_POOL (10) sizes the Fastify peer's pg.Pool; QUEUE_JOBS
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

# wrk_run URL [script] [args...] -> prints "rps p50_ms p99_ms non2xx errors"
wrk_run() {
  local url=$1 script=${2:-} ; shift 2 || shift $#
  local sargs=()
  [ -n "$script" ] && sargs=(-s "$script")
  wrk -t2 -c64 -d"$WARMUP" "${sargs[@]}" "$url" -- "$@" >/dev/null 2>&1 || true
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "${sargs[@]}" "$url" -- "$@" 2>&1)
  printf '%s\n' "$out" >> "$OUT/wrk.log"
  if grep -q '^result ' <<<"$out"; then
    local r; r=$(grep '^result ' <<<"$out")
    printf '%s %s %s %s %s\n' "$(sed -E 's/.*requests_per_s=([0-9.]+).*/\1/' <<<"$r")" \
      "$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$r")" "$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$r")" \
      "$(sed -E 's/.*non_2xx_3xx=([0-9]+).*/\1/' <<<"$r")" "$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$r")"
    return
  fi
  local rps p50 p99 non2xx errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  errs=$(awk '/Socket errors/ {s=0; for(i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out"); errs=${errs:-0}
  printf '%s %s %s %s %s\n' "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$non2xx" "$errs"
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

# compare NAME A_LABEL A_URL A_SCRIPT B_LABEL B_URL B_SCRIPT [wrk args...]
# Runs ROUNDS alternating rounds; prints a table row with medians and the ratio A/B.
compare() {
  local name=$1 al=$2 au=$3 as=$4 bl=$5 bu=$6 bs=$7; shift 7
  local ar=() br=() a99=() b99=() a50=() b50=()
  for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 bad errs < <(wrk_run "$au" "$as" "$@")
    [ "${bad:-0}" = 0 ] && [ "${errs:-0}" = 0 ] || log "$name/$al round $r: $bad non-2xx, $errs socket errors"
    ar+=("$rps"); a50+=("$p50"); a99+=("$p99")
    read -r rps p50 p99 bad errs < <(wrk_run "$bu" "$bs" "$@")
    [ "${bad:-0}" = 0 ] && [ "${errs:-0}" = 0 ] || log "$name/$bl round $r: $bad non-2xx, $errs socket errors"
    br+=("$rps"); b50+=("$p50"); b99+=("$p99")
  done
  local am bm a99m b99m a50m b50m
  am=$(printf '%s\n' "${ar[@]}" | median); bm=$(printf '%s\n' "${br[@]}" | median)
  a50m=$(printf '%s\n' "${a50[@]}" | median); b50m=$(printf '%s\n' "${b50[@]}" | median)
  a99m=$(printf '%s\n' "${a99[@]}" | median); b99m=$(printf '%s\n' "${b99[@]}" | median)
  row "$name | $al $(printf '%.0f' "$am") req/s (p50 $a50m / p99 $a99m ms) | $bl $(printf '%.0f' "$bm") req/s (p50 $b50m / p99 $b99m ms) | **$(awk -v a="$am" -v b="$bm" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')x**"
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
PEERS_WRK="$PEERS_SRC/wrk"
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
  PEERS_WRK="$SCRATCH/peers/wrk"
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
  {
    echo "CREATE TEMP TABLE bench_tokens (u int, digest text);"
    echo "\\copy bench_tokens FROM '$SCRATCH/tokens.tsv'"
    cat "$ROOT/tools/bench/seed_quill.sql"
    if [ -f "$ROOT/tools/bench/seed_entries.sql" ]; then cat "$ROOT/tools/bench/seed_entries.sql"; fi
  } | PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$(pg_url quill_bench)" >/dev/null
}

QUILL_BENCH_ENV=(QUILL_RATE_LIMIT=1000000 QUILL_AUTH_IP_LIMIT=1000000)

bench_me() {
  log "GET /v1/me: quill-api vs Fastify + pg, the peers' wrk/me.lua over 1,000 users"
  quill_seed
  start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
  if peers_setup; then
    peer_start
    compare "GET /v1/me" quill "http://127.0.0.1:58091" "$PEERS_WRK/me.lua" \
      fastify "http://127.0.0.1:58081" "$PEERS_WRK/me.lua"
    kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true
  else
    read -r rps p50 p99 bad errs < <(wrk_run "http://127.0.0.1:58091" "$ROOT/tools/bench/wrk/me_local.lua")
    row "GET /v1/me | quill $(printf '%.0f' "$rps") req/s (p50 $p50 / p99 $p99 ms) | (no peer) | "
  fi
  kill "$QUILL_PID"; wait "$QUILL_PID" 2>/dev/null || true
}

# The journal routes against the peer: one entry, a page of 50, and POST (which adds rows,
# so it runs last and both sides are reseeded before each comparison).
bench_entries() {
  log "journal entries: quill-api vs Fastify + pg with the peers' wrk scripts"
  if ! peers_setup; then
    log "no peer: skipping the entry comparisons"
    return
  fi
  local name script
  for pair in "GET one entry:get_entry.lua" "GET a page of 50:list_entries.lua" "POST an entry:post_entry.lua"; do
    name=${pair%%:*}; script=${pair##*:}
    [[ " ${ENTRIES:-get_entry list_entries post_entry} " == *" ${script%.lua} "* ]] || continue
    quill_seed
    (cd "$SCRATCH/peers" && DATABASE_URL=$(pg_url peers) ./seed.sh >/dev/null)
    start_quill_api 58091 "${QUILL_BENCH_ENV[@]}"
    peer_start
    local before; before=$(rss_kb "$QUILL_PID")
    local d=$DURATION
    [ "$script" = post_entry.lua ] && d=$POST_DURATION
    DURATION=$d compare "$name" quill "http://127.0.0.1:58091" "$PEERS_WRK/$script" \
      fastify "http://127.0.0.1:58081" "$PEERS_WRK/$script"
    [ "$script" = get_entry.lua ] && lookup_vs_pgbench
    row "quill-api RSS after $name | $(( $(rss_kb "$QUILL_PID") / 1024 )) MiB (idle $(( before / 1024 )) MiB) | | "
    kill "$PEER_PID" "$QUILL_PID"; wait "$PEER_PID" "$QUILL_PID" 2>/dev/null || true
  done
}

# The goal for single-entry reads: the rate `pgbench -M prepared` reaches with the bare lookup
# statement and the same client count (tools/bench/lookup.pgbench), alternating with Quill.
lookup_vs_pgbench() {
  command -v pgbench >/dev/null || { log "no pgbench: skipping the bare-lookup comparison"; return; }
  local qr=() pr=() rps rest
  for _ in $(seq "$ROUNDS"); do
    read -r rps rest < <(wrk_run "http://127.0.0.1:58091" "$PEERS_WRK/get_entry.lua")
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

# kv LINE KEY -> the value of KEY=value in a result line
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k {print $2}'; }

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
