#!/usr/bin/env bash
# fer-bench runs on the real weights and demo photos (briefly; the figures
# themselves are not judged here) and prints each of its sections: the sgemm
# peak, the backbone table, both detectors, personalization and its RSS; on the
# fused kernels its answers agree with LibTorch's operators on every crop.
# Usage: fer_bench_test.sh FER_BENCH
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
out="$("$1" --node_bench= --seconds=0.05 --batches=1,4 2>&1)" || fail "fer-bench failed: $out"
echo "$out"
for line in '^sgemm 1024\^2 on cpu: [0-9.]+ GFLOP/s' '^ +1 +[0-9.]+ +[0-9.]+' '^ +4 +[0-9.]+ +[0-9.]+' \
  '^face detector ssd_mobilenetv1 .* per frame: [0-9.]+ ms' \
  '^face detector tiny_face_detector .* per frame: [0-9.]+ ms' '^personalization .* per face: [0-9.]+ us' \
  '^fer-bench peak RSS: [0-9]+ MiB'; do
  grep -Eq "$line" <<<"$out" || fail "no line matching $line"
done
if grep -q "fused CPU kernels" <<<"$out"; then
  crops="$(sed -n 's/^backbone + expression head on \([0-9]*\) real.*/\1/p' <<<"$out")"
  grep -Eq "^answers against LibTorch's operators on the $crops crops: same top label on $crops;" \
    <<<"$out" || fail "the fused kernels' answers differ from LibTorch's operators"
fi
echo PASS
