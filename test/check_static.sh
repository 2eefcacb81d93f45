#!/bin/sh
# Static analysis, run by the test command: cppcheck (warnings, portability, performance;
# suppressions with reasons in test/cppcheck.supp, or inline as "cppcheck-suppress") and
# clang-tidy (the checks of the checked-in .clang-tidy) over Quill's own sources.
# $1: the source root, $2: a build directory with compile_commands.json.  Prints TAP.
root=${1:-$(dirname "$0")/..}
build=${2:-$root/build}
cd "$root" || exit 1
echo "1..2"
status=0
files=$(git ls-files 'core/*.c' 'adapters/*.c' 'apps/*.c' 'test/*.c' 2>/dev/null)
[ -n "$files" ] || files=$(find core adapters apps test -name '*.c')
if ! command -v cppcheck >/dev/null; then
  echo "not ok 1 - cppcheck # not installed"; status=1
elif out=$(cppcheck -q -j2 --enable=warning,portability,performance --inline-suppr \
    --suppressions-list=test/cppcheck.supp --error-exitcode=1 -D_GNU_SOURCE \
    -I core -I adapters -I test $files 2>&1); then
  echo "ok 1 - cppcheck"
else
  echo "$out" | grep -E '(error|warning|portability|performance|style):' | head -30 | sed 's/^/# /'
  echo "not ok 1 - cppcheck"; status=1
fi
src=$(echo "$files" | tr ' ' '\n' | grep -Ev '^test/')
if ! command -v clang-tidy >/dev/null; then
  echo "not ok 2 - clang-tidy # not installed"; status=1
elif [ ! -f "$build/compile_commands.json" ]; then
  echo "not ok 2 - clang-tidy # no $build/compile_commands.json"; status=1
elif out=$(echo "$src" | xargs -P2 -n8 clang-tidy -p "$build" --quiet 2>/dev/null | \
    grep -E '(warning|error):'); then
  echo "$out" | sort -u | head -30 | sed 's/^/# /'
  echo "not ok 2 - clang-tidy"; status=1
else
  echo "ok 2 - clang-tidy"
fi
exit $status
