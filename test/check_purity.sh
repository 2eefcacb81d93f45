#!/bin/sh
# The layers stay apart.  Prints TAP.
#   1. core/ includes no adapter library (libuv, libpq, llhttp, libsodium, libcurl, OpenSSL).
#   2. An adapter includes only core/ headers and headers of its own folder: it knows ports,
#      never another adapter.
#   3. No folder name is used in both core/ and adapters/ ("log/log.h" means one thing).
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 1
echo "1..3"
fails=0

bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](uv|uv/[^">]*|libpq-fe|libpq/[^">]*|llhttp|sodium|sodium/[^">]*|curl/[^">]*|openssl/[^">]*)\.h[">]' core)
if [ -n "$bad" ]; then
  echo "$bad" | sed 's/^/# /'
  echo "not ok 1 - core/ includes no adapter library"
  fails=$((fails + 1))
else
  echo "ok 1 - core/ includes no adapter library"
fi

bad=""
for dir in adapters/*/; do
  own=${dir%/}
  for f in "$own"/*.c "$own"/*.h; do
    [ -f "$f" ] || continue
    for inc in $(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$f"); do
      if [ -f "core/$inc" ] || [ -f "$own/$inc" ]; then
        continue
      fi
      bad="$bad
$f includes \"$inc\", which is neither in core/ nor in $own/"
    done
  done
done
if [ -n "$bad" ]; then
  echo "$bad" | sed '/^$/d; s/^/# /'
  echo "not ok 2 - every adapter includes only core/ and its own folder"
  fails=$((fails + 1))
else
  echo "ok 2 - every adapter includes only core/ and its own folder"
fi

bad=""
for dir in core/*/; do
  name=$(basename "$dir")
  [ -d "adapters/$name" ] && bad="$bad $name"
done
if [ -n "$bad" ]; then
  echo "# in both core/ and adapters/:$bad"
  echo "not ok 3 - no folder name is used in both core/ and adapters/"
  fails=$((fails + 1))
else
  echo "ok 3 - no folder name is used in both core/ and adapters/"
fi
[ "$fails" -eq 0 ]
