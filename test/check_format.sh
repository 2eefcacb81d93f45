#!/bin/sh
# Every C file is formatted with the checked-in .clang-format.  Prints TAP.
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 1
echo "1..1"
files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^subprojects/')
[ -n "$files" ] || files=$(find core adapters apps test -name '*.[ch]')
if out=$(clang-format --dry-run --Werror $files 2>&1); then
  echo "ok 1 - sources match .clang-format"
else
  echo "$out" | grep -E 'error:' | head -20 | sed 's/^/# /'
  echo "# fix with: clang-format -i \$(git ls-files '*.c' '*.h')"
  echo "not ok 1 - sources match .clang-format"
  exit 1
fi
