#!/bin/sh
# Every source file can be read in one sitting: at most 600 lines.  Prints TAP.
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 1
echo "1..1"
files=$(git ls-files '*.c' '*.h' '*.mjs' 2>/dev/null | grep -v '^subprojects/')
[ -n "$files" ] || files=$(find core adapters apps test tools -name '*.[ch]')
long=$(wc -l $files | awk '$2 != "total" && $1 > 600 {print $2 " (" $1 " lines)"}')
if [ -n "$long" ]; then
  echo "$long" | sed 's/^/# over 600 lines: /'
  echo "not ok 1 - no source file is over 600 lines"
  exit 1
fi
echo "ok 1 - no source file is over 600 lines"
