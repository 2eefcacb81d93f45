#!/bin/sh
# The core stays pure: nothing under core/ may include libuv, libpq, llhttp, libsodium,
# libcurl or OpenSSL.  Prints TAP.
root=${1:-$(dirname "$0")/..}
echo "1..1"
bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](uv|uv/[^">]*|libpq-fe|libpq/[^">]*|llhttp|sodium|sodium/[^">]*|curl/[^">]*|openssl/[^">]*)\.h[">]' "$root/core")
if [ -n "$bad" ]; then
  echo "$bad" | sed 's/^/# /'
  echo "not ok 1 - core/ includes no adapter library"
  exit 1
fi
echo "ok 1 - core/ includes no adapter library"
