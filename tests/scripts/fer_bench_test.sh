#!/usr/bin/env bash
# fer-bench runs on the real weights and demo photos (briefly; the figures
# themselves are not judged here) and prints each of its sections: the sgemm
# peak (before and after the backbone's runs; the table's share of sgemm is of
# the higher), the backbone table, both detectors, personalization and its
# RSS; on the fused kernels its answers agree with LibTorch's operators on
# every crop.
# Against a real ferserve on loopback it prints the end-to-end tables: streams
# sending as fast as answers come, and streams paced on a clock, where a rate
# above what the closed-loop run answered is not run; live streams (paced,
# max_frame_lag_ms) run at every rate and skip frames only above it. With
# --batches empty it measures the server alone (and refuses to run without
# one: nothing to measure).
# Usage: fer_bench_test.sh FER_BENCH FERSERVE ASSETS_DIR
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
out="$("$1" --node_bench= --seconds=0.05 --batches=1,4 2>&1)" || fail "fer-bench failed: $out"
echo "$out"
for line in '^sgemm 1024\^2 on cpu: [0-9.]+ GFLOP/s' \
  "^sgemm again after the backbone's runs: [0-9.]+ GFLOP/s; %sgemm is of [0-9.]+\$" \
  '^ +1 +[0-9.]+ +[0-9.]+' '^ +4 +[0-9.]+ +[0-9.]+' \
  '^face detector ssd_mobilenetv1 .* per frame: [0-9.]+ ms' \
  '^face detector tiny_face_detector .* per frame: [0-9.]+ ms' '^personalization .* per face: [0-9.]+ us' \
  '^fer-bench peak RSS: [0-9]+ MiB'; do
  grep -Eq "$line" <<<"$out" || fail "no line matching $line"
done
# The backbone's share of sgemm is of the higher of the two sgemm figures.
first="$(sed -n 's/^sgemm 1024^2 on cpu: \([0-9.]*\) GFLOP.*/\1/p' <<<"$out")"
read -r again peak < <(sed -n "s/^sgemm again after the backbone's runs: \([0-9.]*\) .* of \([0-9.]*\)$/\1 \2/p" <<<"$out")
awk -v a="$first" -v b="$again" -v p="$peak" 'BEGIN {exit !(p + 0 == (a + 0 > b + 0 ? a : b))}' ||
  fail "the peak $peak is not the higher of the sgemm figures $first and $again"
read -r gflops share < <(awk '$1 == 1 && NF >= 5 {sub(/%/, "", $5); print $4, $5; exit}' <<<"$out")
awk -v g="$gflops" -v s="$share" -v p="$peak" 'BEGIN {d = 100 * g / p - s; exit !(d < 0.2 && d > -0.2)}' ||
  fail "batch 1's %sgemm $share is not its $gflops GFLOP/s of $peak"
if grep -q "fused CPU kernels" <<<"$out"; then
  crops="$(sed -n 's/^backbone + expression head on \([0-9]*\) real.*/\1/p' <<<"$out")"
  grep -Eq "^answers against LibTorch's operators on the $crops crops: same top label on $crops;" \
    <<<"$out" || fail "the fused kernels' answers differ from LibTorch's operators"
fi
status=0
out="$("$1" --batches= 2>&1)" || status=$?
[ "$status" = 2 ] && grep -q "nothing to measure" <<<"$out" ||
  fail "--batches= without --server: exit $status, $out"

# shellcheck source=scripts/ferserve_on_loopback.sh
source "$(dirname "$0")/../../scripts/ferserve_on_loopback.sh"
start_ferserve "$2" --max_stream_fps=0 --warmup=false --model_dir="$3/face-api/model"
grep -q "listening on 127.0.0.1:$port (gRPC) without a metrics endpoint;" "$dir/log" ||
  fail "the start-up line does not say --metrics_port=-1 left the metrics endpoint off"
# 1 frame/s per stream is within any server's reach; 100000 beyond it.
out="$("$1" --server="127.0.0.1:$port" --streams=1,2 --frames=16 --detection_intervals=1,2 \
  --paced_fps=1,100000 --paced_seconds=3 --batches= 2>&1)" || fail "fer-bench failed: $out"
echo "$out"
! grep -Eq '^sgemm|^face detector|^fer-bench peak RSS' <<<"$out" ||
  fail "--batches= measured more than the server"
for interval in 1 2; do
  table="$(sed -n "/^detection_interval $interval /,/^detection_interval\|^against\|^ *against/p" <<<"$out")"
  for line in '^ +1 +[0-9.]+ +[0-9.]+ +[0-9.]+$' '^ +2 +[0-9.]+ +[0-9.]+ +[0-9.]+$' \
    '^  paced: each stream sends 1 frames/s \(3 frames;' \
    '^ +1 +1 +[0-9.]+ +[0-9.]+ +[0-9.]+$' '^ +2 +2 +[0-9.]+ +[0-9.]+ +[0-9.]+$' \
    '^ +1 +100000 +over the [0-9.]+ frames/s answered in closed loop: not run$' \
    '^ +2 +200000 +over the [0-9.]+ frames/s answered in closed loop: not run$' \
    '^  live: the same with max_frame_lag_ms 100 ' \
    '^ +1 +1 +[0-9.]+ +0% +[0-9.]+ +[0-9.]+$' '^ +2 +2 +[0-9.]+ +0% +[0-9.]+ +[0-9.]+$' \
    '^ +1 +100000 +[0-9.]+ +([1-9][0-9]*)% +[0-9.]+ +[0-9.]+$' \
    '^ +2 +200000 +[0-9.]+ +([1-9][0-9]*)% +[0-9.]+ +[0-9.]+$'; do
    grep -Eq "$line" <<<"$table" || fail "detection_interval $interval: no line matching $line"
  done
done
# Paced at 1 frame/s, 3 frames a stream take about 2 s after the first:
# the answered rate is the clock's, not the server's.
paced="$(sed -n '/sends 1 frames/,/sends 100000/p' <<<"$out" | awk '$1 == 2 && $2 == 2 {print $3}' | head -1)"
awk -v r="$paced" 'BEGIN {exit !(r > 0.5 && r < 2.5)}' ||
  fail "paced at 1 frame/s on 2 streams answered $paced frames/s"
echo PASS
