#!/usr/bin/env bash
# Checks the Dockerfile without a Docker daemon: Debian base images only; no
# download but fetch_assets' verified npm packages; build packages all come
# from scripts/setup's list; the runtime stages install no -dev package and
# their packages (with dependencies) provide every shared library that the
# built ferserve and fer-health-probe load; the CUDA stages have Debian's
# CUDA toolkit and runtime; a non-root user and a
# grpc.health.v1 HEALTHCHECK; and the build context the Dockerfile copies
# (after .dockerignore) configures with CMake.
#   dockerfile_test.sh SOURCE_DIR FERSERVE_BINARY PROBE_BINARY
set -euo pipefail
src="$1"; ferserve="$2"; probe="$3"
dockerfile="$src/Dockerfile"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "dockerfile: $*" >&2; exit 1; }

# Instructions with their continuation lines joined, comments dropped.
grep -v '^\s*#' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' >"$tmp/instructions"

# Stage text: the instructions from "FROM ... AS name" to the next FROM.
stage() { awk -v s="$1" '/^FROM / {on = ($NF == s)} on' "$tmp/instructions"; }
# Packages that a stage installs with apt-get.
apt_packages() {
  grep -o 'apt-get install -y --no-install-recommends [^&]*' | cut -d' ' -f5- | tr ' ' '\n' | grep -v '^$' || true
}

echo "== base images"
grep '^FROM ' "$tmp/instructions" | awk '{print $2}' | sort -u >"$tmp/bases"
stages="$(grep -o ' AS [a-z-]*' "$tmp/instructions" | awk '{print $2}')"
while read -r base; do
  case "$base" in
    debian:bookworm|debian:bookworm-slim) ;;
    *'${LIBTORCH}') ;;  # one of this file's stages
    *) grep -qx "$base" <<<"$stages" || fail "base image $base is not Debian bookworm" ;;
  esac
done <"$tmp/bases"
[ "$(grep '^FROM ' "$tmp/instructions" | tail -1)" = 'FROM runtime-${LIBTORCH}' ] || fail "final stage"
grep -q '^FROM debian:bookworm-slim AS runtime-base' "$tmp/instructions" || fail "runtime is not slim"

echo "== downloads"
! grep -Eiq '(curl|wget|https?://)' "$tmp/instructions" || fail "a download outside fetch_assets"
! grep -Eq '^ADD ' "$tmp/instructions" || fail "ADD (use COPY)"
grep -q '^RUN scripts/fetch_assets$' "$tmp/instructions" || fail "assets not fetched by fetch_assets"
# fetch_assets writes to $FERSERVE_ASSETS; pft_bundle reads FERSERVE_ASSETS_DIR
# (default: the source tree's third_party/assets, which .dockerignore drops).
grep -q 'FERSERVE_ASSETS_DIR="\$FERSERVE_ASSETS"' <<<"$(grep 'scripts/pft_bundle' "$tmp/instructions")" ||
  fail "pft_bundle does not read the assets fetch_assets fetched"

echo "== build packages come from scripts/setup"
bash "$src/scripts/setup" --packages >"$tmp/setup"
for s in build-base torch-debian; do
  stage "$s" | apt_packages
done | while read -r p; do
  grep -qx "$p" "$tmp/setup" || fail "build package $p is not in scripts/setup"
done

echo "== CUDA stages"
# LibTorch's CMake package configures only next to a CUDA toolkit; it and
# the CUDA runtime come from Debian's non-free section.
grep -qx nvidia-cuda-toolkit <<<"$(stage torch-cuda | apt_packages)" || fail "torch-cuda has no CUDA toolkit"
grep -qx libcudart11.0 <<<"$(stage runtime-cuda | apt_packages)" || fail "runtime-cuda has no CUDA runtime"
for s in torch-cuda runtime-cuda; do
  grep -q "Components: main contrib non-free" <<<"$(stage "$s")" || fail "$s does not enable non-free"
done

echo "== runtime packages"
# runtime-base serves both images; runtime-debian adds Debian's LibTorch,
# runtime-cuda the official LibTorch's own lib/ folder.
base="$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$tmp/instructions")"
torch="$(stage runtime-debian | apt_packages | tr '\n' ' ')"
[ -n "$base" ] && [ -n "$torch" ] || fail "no runtime packages"
for p in $base $torch; do
  case "$p" in *-dev) fail "runtime installs $p" ;; esac
done
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" | grep -v '^ ' | sort -u
}
closure $base >"$tmp/closure-base"
closure $base $torch >"$tmp/closure"
for binary in "$ferserve" "$probe"; do
  readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
    path="$(ldd "$binary" | awk -v l="$lib" '$1 == l {print $3}')"
    [ -n "$path" ] || fail "$lib not found for $binary"
    # (usrmerge: dpkg may know the file under /lib or under /usr/lib.)
    pkg="$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")" ||
             dpkg -S "/lib/x86_64-linux-gnu/$(basename "$(readlink -f "$path")")"; } 2>/dev/null |
           sed -n '1s/:.*//p')"
    [ -n "$pkg" ] || fail "no Debian package owns $path"
    grep -qx "$pkg" "$tmp/closure" || fail "$(basename "$binary") needs $lib ($pkg), not in the runtime stage"
    # Without Debian's LibTorch (the CUDA image) everything else must still be there.
    [ "$pkg" = libtorch1.13 ] || grep -qx "$pkg" "$tmp/closure-base" ||
      fail "$(basename "$binary") needs $lib ($pkg), which only Debian's LibTorch brings (CUDA image)"
    echo "  $(basename "$binary"): $lib <- $pkg"
  done
done

echo "== user and health check"
final="$(awk '/^FROM runtime-\$\{LIBTORCH\}$/ {on=1} on' "$tmp/instructions")"
user="$(grep '^USER ' <<<"$final" | tail -1 | awk '{print $2}')"
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "runs as root"
grep -q '^HEALTHCHECK .*CMD \["/usr/local/bin/fer-health-probe"' <<<"$final" || fail "no health check"
grep -q 'COPY --from=build /src/build/client/fer-health-probe' <<<"$final" || fail "no probe"
"$probe" --help >/dev/null 2>&1 || [ $? -eq 1 ]   # the probe runs and parses flags
"$probe" --addr=127.0.0.1:1 --timeout=1s --quiet && fail "probe says SERVING with no server"
[ "$("$probe" --addr=127.0.0.1:1 --timeout=1s --quiet; echo $?)" = 2 ] || fail "probe exit code"

echo "== build context"
mkdir -p "$tmp/context"
while read -r from to; do
  [ -e "$src/$from" ] || fail "COPY $from: not in the repository"
  mkdir -p "$(dirname "$tmp/context/$to")"
  cp -r "$src/$from" "$tmp/context/$to"
done < <(grep -E '^COPY [a-zA-Z]' "$tmp/instructions" | awk '{print $2, ($3 == "./" ? $2 : $3)}')
# What .dockerignore leaves out must not be needed: drop it and configure.
rm -rf "$tmp/context/scripts/reference" "$tmp/context/tests"
for ignored in tests deploy helm build; do
  grep -qx "$ignored/\?" "$src/.dockerignore" || grep -qx "$ignored\*/" "$src/.dockerignore" ||
    fail ".dockerignore keeps $ignored"
done
cmake -S "$tmp/context" -B "$tmp/context/build" -G Ninja -DFERSERVE_BUILD_TESTS=OFF \
  -DFERSERVE_ASSETS_DIR=/opt/ferserve/assets >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log" >&2; fail "the build context does not configure"; }
grep -q 'build fer-health-probe\|fer-health-probe:' "$tmp/context/build/build.ninja" || fail "no probe target"
echo "dockerfile: OK"
