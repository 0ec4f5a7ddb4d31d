#!/usr/bin/env bash
# scripts/fetch_assets accepts a file matching its sha512 integrity and stops
# with a clear message on a corrupt one.
set -euo pipefail
fetch="$1/scripts/fetch_assets"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
# Zeros, so that the 'X' written below always changes the file.
head -c 100000 /dev/zero >"$dir/pkg.tgz"
good="sha512-$(openssl dgst -sha512 -binary "$dir/pkg.tgz" | base64 -w0)"
"$fetch" --verify "$dir/pkg.tgz" "$good"
printf 'X' | dd of="$dir/pkg.tgz" bs=1 seek=5000 conv=notrunc status=none
if "$fetch" --verify "$dir/pkg.tgz" "$good" 2>"$dir/err"; then
  echo "FAIL: a corrupt file passed verification" >&2
  exit 1
fi
grep -q "integrity mismatch" "$dir/err" || { echo "FAIL: unclear message:"; cat "$dir/err"; exit 1; }
head -c 5000 "$dir/pkg.tgz" >"$dir/short.tgz"
if "$fetch" --verify "$dir/short.tgz" "$good" 2>/dev/null; then
  echo "FAIL: a truncated file passed verification" >&2
  exit 1
fi
echo "fetch_assets verification: ok"
