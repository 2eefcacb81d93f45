#!/bin/bash
# tools/lib.sh's fetch_web fetches the /docs renderer again when the file the build embeds
# is missing, even if node_modules is there (an emptied folder once stopped the build).
# Runs it on a scratch copy of apps/api/docs with a stub npm on PATH.  Prints TAP.
root=${1:-$(dirname "$0")/..}
root=$(cd "$root" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/apps/api/docs" "$tmp/bin"
cp "$root/apps/api/docs/package-lock.json" "$tmp/root/apps/api/docs/"
cat > "$tmp/bin/npm" <<'NPM'
#!/bin/sh
echo ran >> "$NPM_LOG"
mkdir -p node_modules/swagger-ui-dist && : > node_modules/swagger-ui-dist/swagger-ui-bundle.js
NPM
chmod +x "$tmp/bin/npm"
export NPM_LOG="$tmp/npm.log"
fetch() { (ROOT="$tmp/root" PATH="$tmp/bin:$PATH" && . "$root/tools/lib.sh" && fetch_web) 2>/dev/null; }
echo "1..3"
n=1
runs() { if [ -f "$NPM_LOG" ]; then wc -l < "$NPM_LOG"; else echo 0; fi; }
check() { # check DESCRIPTION RUNS: npm ran RUNS times in all so far
  if [ "$(runs)" -eq "$2" ]; then echo "ok $n - $1"; else
    echo "not ok $n - $1 (npm ran $(runs) times)"; fail=1; fi
  n=$((n + 1))
}
fail=0
mkdir "$tmp/root/apps/api/docs/node_modules"
touch "$tmp/root/apps/api/docs/node_modules"
fetch; check "an empty node_modules is fetched again" 1
fetch; check "a complete one is left alone" 1
rm -f "$tmp/root/apps/api/docs/node_modules/swagger-ui-dist/swagger-ui-bundle.js"
fetch; check "one missing the embedded file is fetched again" 2
exit $fail
