# shellcheck shell=bash
# Sourced by the scripts and shell tests that talk to a real ferserve on
# loopback (scripts/bench, scripts/soak, tests/scripts/*). Sourcing makes a
# temporary folder, `dir`, and an EXIT trap that stops the server and removes
# the folder.
#   start_ferserve FERSERVE [FLAGS...]
# starts FERSERVE on 127.0.0.1 with a free gRPC port, no metrics endpoint and
# a RocksDB store in $dir (its log: $dir/log), and waits up to two minutes for
# its start-up line: sets `server` (the pid) and `port`. Exits (with the log)
# if it does not start.
dir="$(mktemp -d)"
trap 'stop_ferserve; rm -rf "$dir"' EXIT

start_ferserve() {
  local ferserve="$1"
  shift
  "$ferserve" --host=127.0.0.1 --port=0 --metrics_port=-1 --store="rocksdb://$dir/store" "$@" \
    >"$dir/log" 2>&1 &
  server=$!
  port=
  for _ in $(seq 1 1200); do
    port="$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\) (gRPC).*/\1/p' "$dir/log")"
    [ -n "$port" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: ferserve did not start: $(cat "$dir/log")" >&2
  exit 1
}

stop_ferserve() {
  [ -n "${server:-}" ] || return 0
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
