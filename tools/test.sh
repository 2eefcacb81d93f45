#!/usr/bin/env bash
# tools/test.sh - the whole test suite (run through `tools/quill test`):
#   1. build, start the local PostgreSQL, create and migrate the test databases
#   2. unit, integration and lint suites (meson test)
#   3. end-to-end tests: the real binaries over real sockets (node --test)
#   4. unit and integration suites again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      then the end-to-end suite against the sanitizer build's binaries
#   5. bounded fuzzing (libFuzzer, under the same sanitizers) of what parses client input:
#      HTTP/1.1 framing, JSON bodies, cursors, cron expressions, JWTs (see run_fuzzers)
#   6. static analysis: cppcheck and clang-tidy (test/check_static.sh)
# and ends with one line "N passed, N failed".  Exits non-zero on any failure.
#   tools/quill test [--quick]     --quick skips the sanitizer build and fuzzing
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tools/lib.sh"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

RESULTS="$BUILD/test-results"

# The libFuzzer targets of test/fuzz as name:seconds:max_len[:dictionary], about two and a
# half minutes in all.  Each starts from its checked-in seeds (test/fuzz/corpus/<name>, and
# test/fuzz/<dictionary>.dict when named), keeps what it finds under $RESULTS/corpus, writes
# a crash's input to $RESULTS/fuzz-<name>-crash-*, and reports one TAP line in fuzz.tap.
# -entropic=0: in runs this short, the entropic schedule's bookkeeping costs more than it
# finds (it took half of fuzz_h1's time; without it the targets run up to twice as fast).
FUZZ_TARGETS=(h1:30:8192:h1 exec:20:8192:h1 body:20:4096 entry_body:15:4096 cursor:20:4096
  cron:15:256:cron jwt:20:4096)
run_fuzzers() {
  local i=0 any=0 spec name secs len dname dict
  for spec in "${FUZZ_TARGETS[@]}"; do
    [ -x "$BUILD_SAN/test/fuzz_${spec%%:*}" ] && any=1
  done
  if [ "$any" -eq 0 ]; then log "no fuzz targets in $BUILD_SAN (configured without -Dfuzz=true?)"; return; fi
  : >"$RESULTS/fuzz.tap"
  for spec in "${FUZZ_TARGETS[@]}"; do
    IFS=: read -r name secs len dname <<<"$spec"
    i=$((i + 1))
    if [ ! -x "$BUILD_SAN/test/fuzz_$name" ]; then
      echo "not ok $i - fuzz_$name # not built" >>"$RESULTS/fuzz.tap"; continue
    fi
    log "fuzzing $name for $secs s"
    mkdir -p "$RESULTS/corpus/$name"
    dict=(); [ -n "$dname" ] && dict=(-dict="$ROOT/test/fuzz/$dname.dict")
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
      timeout $((secs + 120)) "$BUILD_SAN/test/fuzz_$name" -max_total_time="$secs" -timeout=10 \
      -max_len="$len" -entropic=0 -artifact_prefix="$RESULTS/fuzz-$name-" "${dict[@]}" \
      "$RESULTS/corpus/$name" "$ROOT/test/fuzz/corpus/$name" >"$RESULTS/fuzz-$name.txt" 2>&1
    if [ $? -eq 0 ]; then echo "ok $i - fuzz_$name" >>"$RESULTS/fuzz.tap"
    else echo "not ok $i - fuzz_$name" >>"$RESULTS/fuzz.tap"; tail -30 "$RESULTS/fuzz-$name.txt" >&2; fi
  done
  files+=("$RESULTS/fuzz.tap")
}
# The end-to-end suite again, against the sanitizer build's binaries: the server's C code
# under real traffic.  Every report (ASan, LeakSanitizer at exit, UBSan) goes to a file of
# its own under $RESULTS/san-reports, and any file there fails san-reports.tap.  RSS bounds
# are not checked (QUILL_E2E_SANITIZED: shadow memory and the quarantine of freed blocks).
run_e2e_sanitized() {
  log "end-to-end suite against the sanitizer build"
  local reports="$RESULTS/san-reports"
  rm -rf "$reports"; mkdir -p "$reports"
  recreate_db quill_e2e
  DATABASE_URL=$QUILL_E2E_DATABASE_URL "$BUILD_SAN/apps/quill-migrate" up >/dev/null
  ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan" QUILL_E2E_SANITIZED=1 \
    QUILL_ROOT="$ROOT" QUILL_BIN="$BUILD_SAN/apps" QUILL_PG_PORT=$PGPORT \
    timeout 2400 node --test --test-reporter=tap --test-concurrency=1 "$ROOT"/test/e2e/*.test.mjs \
    >"$RESULTS/e2e-san.tap" 2>"$RESULTS/e2e-san.stderr"
  grep -E '^# (pass|fail)' "$RESULTS/e2e-san.tap" >&2
  files+=("$RESULTS/e2e-san.tap")
  local found
  found=$(find "$reports" -type f | sort)
  if [ -z "$found" ]; then
    echo "ok 1 - no sanitizer reports from the binaries under the e2e suite" >"$RESULTS/san-reports.tap"
  else
    echo "not ok 1 - sanitizer reports from the binaries under the e2e suite: $(echo $found)" >"$RESULTS/san-reports.tap"
    head -n 40 $found >&2
  fi
  files+=("$RESULTS/san-reports.tap")
}

set -e
build
pg_start
for db in quill_test quill_migrate_test quill_e2e; do recreate_db "$db"; done
export QUILL_TEST_DATABASE_URL=$(pg_url quill_test)
export QUILL_TEST_MIGRATE_URL=$(pg_url quill_migrate_test)
export QUILL_E2E_DATABASE_URL=$(pg_url quill_e2e)
export QUILL_MIGRATIONS_DIR="$ROOT/migrations"
DATABASE_URL=$QUILL_TEST_DATABASE_URL "$BUILD/apps/quill-migrate" up >/dev/null
DATABASE_URL=$QUILL_E2E_DATABASE_URL "$BUILD/apps/quill-migrate" up >/dev/null
set +e
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
files=()

log "unit, integration and lint suites"
meson test -C "$BUILD" --suite unit --suite integration --suite lint --print-errorlogs \
  --logbase plain >"$RESULTS/meson.txt" 2>&1
tail -n 12 "$RESULTS/meson.txt" | grep -E '^(Ok|Fail|Timeout):' >&2
files+=("$BUILD/meson-logs/plain.json")

log "end-to-end suite"
if [ ! -d "$ROOT/test/e2e/node_modules" ] || [ "$ROOT/test/e2e/package-lock.json" -nt "$ROOT/test/e2e/node_modules" ]; then
  (cd "$ROOT/test/e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || log "npm ci failed"
fi
QUILL_ROOT="$ROOT" QUILL_BIN="$BUILD/apps" QUILL_PG_PORT=$PGPORT \
  timeout 1800 node --test --test-reporter=tap --test-concurrency=1 "$ROOT"/test/e2e/*.test.mjs \
  >"$RESULTS/e2e.tap" 2>"$RESULTS/e2e.stderr"
grep -E '^# (pass|fail)' "$RESULTS/e2e.tap" >&2
files+=("$RESULTS/e2e.tap")

if [ "$quick" -eq 0 ]; then
  log "static analysis: cppcheck and clang-tidy"
  meson test -C "$BUILD" --suite static --print-errorlogs --logbase static \
    >"$RESULTS/meson-static.txt" 2>&1
  tail -n 12 "$RESULTS/meson-static.txt" | grep -E '^(Ok|Fail|Timeout):' >&2
  files+=("$BUILD/meson-logs/static.json")

  log "sanitizer build (ASan + UBSan): unit and integration suites"
  if (build_san) >"$RESULTS/san-build.txt" 2>&1; then # a subshell: its die ends only it
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C "$BUILD_SAN" --suite unit --suite integration --print-errorlogs \
      --logbase san >"$RESULTS/meson-san.txt" 2>&1
    tail -n 12 "$RESULTS/meson-san.txt" | grep -E '^(Ok|Fail|Timeout):' >&2
    files+=("$BUILD_SAN/meson-logs/san.json")
    run_e2e_sanitized
    run_fuzzers
  else
    tail -30 "$RESULTS/san-build.txt" >&2
    echo "not ok 1 - sanitizer build" >"$RESULTS/san-build.tap"
    files+=("$RESULTS/san-build.tap")
  fi
fi

grep -E '^(not ok|#   )' "$RESULTS"/*.txt "$RESULTS/e2e.tap" "$RESULTS/e2e-san.tap" 2>/dev/null | head -40 >&2
python3 "$ROOT/tools/count_results.py" "${files[@]}"
