#!/usr/bin/env bash
# fer-soak against a real ferserve on loopback, briefly (the soak itself is
# scripts/soak's, for minutes): with two users and streams of six frames, so
# that each client's streams take turns at the users and the generic model,
# and the profile churn beside them (on banks and a translator cache small
# enough to evict), it passes and says what it did: personalized answers,
# enrollments, adaptations and deletions, no errors. Against a server without
# a PFT bundle it stops before the run, naming the call that failed; and it
# refuses a target off loopback.
# Usage: fer_soak_test.sh FER_SOAK FERSERVE ASSETS_DIR PFT_BUNDLE
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
soak="$1"
# shellcheck source=scripts/ferserve_on_loopback.sh
source "$(dirname "$0")/../../scripts/ferserve_on_loopback.sh"

out="$("$soak" --server=192.0.2.1:50051 2>&1)" && fail "a target off loopback was accepted: $out"
grep -q "only loopback targets" <<<"$out" || fail "no reason for refusing 192.0.2.1: $out"

start_ferserve "$2" --model_dir="$3/face-api/model" --pft_bundle="$4" \
  --translator_cache_mb=1 --max_enrolled_features=20
out="$("$soak" --server="127.0.0.1:$port" --server_pid="$server" --streams=3 --users=2 \
  --frames_per_stream=6 --duration=15s --report_every=5s --max_rss_growth=1 2>&1)" ||
  fail "fer-soak failed: $out"
echo "$out"
for line in '^2 users enrolled and adapted' \
  '^[0-9]+ frames answered in [0-9]+ s .* over [0-9]+ streams, [1-9][0-9]* of them personalized; 0 streams ended RESOURCE_EXHAUSTED \(intended\), 0 calls with other errors$' \
  '^profile churn: [1-9][0-9]* enrollments, [1-9][0-9]* adaptations, [1-9][0-9]* deletions$' \
  '^server RSS median' '^soak PASSED$'; do
  grep -Eq "$line" <<<"$out" || fail "no line matching $line"
done
# Every client's streams took turns: generic answers came too.
answered="$(sed -nE 's/^([0-9]+) frames answered.*/\1/p' <<<"$out")"
personalized="$(sed -nE 's/.*streams, ([0-9]+) of them personalized.*/\1/p' <<<"$out")"
[ "$personalized" -lt "$answered" ] || fail "no generic stream among $answered answers"
stop_ferserve

rm -rf "$dir/store"
start_ferserve "$2" --model_dir="$3/face-api/model"
out="$("$soak" --server="127.0.0.1:$port" --streams=1 --users=1 --duration=5s 2>&1)" &&
  fail "fer-soak passed without personalization on the server: $out"
echo "$out"
grep -Eq '^fer-soak: setting up user soak-0: [A-Z_]+: ' <<<"$out" ||
  fail "the failed set-up does not name the user and the call's error: $out"
echo PASS
