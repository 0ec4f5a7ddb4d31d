#!/usr/bin/env bash
# Checks deploy/ with the real tools: Prometheus' config and alert rules
# (promtool check, and the rules' unit tests), the nginx site config
# (nginx -t inside a minimal main config, unprivileged, in a temp folder),
# and the Grafana dashboard's JSON shape.
#   deploy_configs_test.sh SOURCE_DIR
set -euo pipefail
src="$1"
deploy="$src/deploy"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

promtool check config "$deploy/prometheus/prometheus.yml"
promtool check rules "$deploy/prometheus/ferserve-alerts.yml"
(cd "$deploy/prometheus" && promtool test rules ferserve-alerts.test.yml)

cat >"$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  include $deploy/nginx/ferserve.conf;
}
CONF
nginx -t -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/error.log"
grep -q 'hash \$http_x_user_id consistent;' "$deploy/nginx/ferserve.conf"
grep -q 'grpc_pass grpc://ferserve;' "$deploy/nginx/ferserve.conf"

dashboard="$deploy/grafana/ferserve-dashboard.json"
jq -e '.uid == "ferserve" and (.panels | length) >= 10' "$dashboard" >/dev/null
# Every panel has a unique id, a grid position and at least one query;
# every query is PromQL on a ferserve_ metric.
jq -e '[.panels[].id] | length == (unique | length)' "$dashboard" >/dev/null
jq -e 'all(.panels[]; (.gridPos | has("x") and has("y") and has("w") and has("h"))
                      and (.targets | length) >= 1
                      and all(.targets[]; .expr | test("ferserve_[a-z_]+")))' "$dashboard" >/dev/null
echo "deploy configs: OK"
