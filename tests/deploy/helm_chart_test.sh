#!/usr/bin/env bash
# Renders helm/ferserve without Helm (tests/deploy/helm_render: Go
# text/template with Sprig and Helm's own functions, from Debian's Go
# packages) with its default values and with every option turned on, checks
# the manifests structurally (helm_render's checks), checks that ferserve
# knows every flag in the rendered flagfile, and that bad settings are
# refused.
#   helm_chart_test.sh SOURCE_DIR FERSERVE_BINARY
set -euo pipefail
src="$1"; ferserve="$2"
chart="$src/helm/ferserve"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$src/tests/deploy/helm_render" &&
  GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS='' GOCACHE="$tmp/gocache" \
    go build -o "$tmp/helm_render" .)
render() { "$tmp/helm_render" -chart "$chart" -name ferserve -namespace fer "$@"; }
# Fails the test when PATTERN is in FILE (a plain `! grep` would not: set -e
# ignores a negated command's status).
absent() {  # PATTERN FILE WHAT
  if grep -q -- "$1" "$2"; then echo "$3" >&2; exit 1; fi
}

# The rendered object KIND named NAME (documents are separated by "---").
doc_of() {  # KIND NAME FILE
  awk -v RS='\n---\n' -v kind="$1" -v name="$2" \
    'index($0, "\nkind: " kind "\n") && index($0, "\n  name: " name "\n")' "$3"
}

# The flagfile of a rendered ConfigMap, one flag per line.
flags_of() {
  awk '/ferserve.flags: \|/ {on=1; next} on && /^    --/ {sub(/^    /, ""); print; next} on {on=0}' "$1"
}

# (--helpfull exits non-zero by design.)
known_flags="$({ "$ferserve" --helpfull 2>&1 || true; } | sed -n 's/^ *--\([a-z0-9_]*\).*/\1/p' | sort -u)"
check_flags() {  # rendered.yaml
  local name
  flags_of "$1" >"$tmp/flags"
  [ -s "$tmp/flags" ] || { echo "no flagfile in $1" >&2; return 1; }
  while IFS= read -r flag; do
    name="${flag#--}"; name="${name%%=*}"
    grep -qx "$name" <<<"$known_flags" || { echo "ferserve has no flag --$name" >&2; return 1; }
  done <"$tmp/flags"
}

echo "== default values"
render >"$tmp/default.yaml"
check_flags "$tmp/default.yaml"
for kind in ConfigMap Deployment Service HorizontalPodAutoscaler PodDisruptionBudget Secret ServiceAccount; do
  grep -q "^kind: $kind$" "$tmp/default.yaml" || { echo "default render lacks a $kind" >&2; exit 1; }
done
[ "$(grep -c '^kind: Service$' "$tmp/default.yaml")" = 3 ]  # ClusterIP, headless, Redis
grep -q '^  clusterIP: None$' "$tmp/default.yaml"
absent '^kind: ServiceMonitor$' "$tmp/default.yaml" "a ServiceMonitor by default"
grep -q -- '--store_key_file=/etc/ferserve/store-key/store.key' "$tmp/default.yaml"
grep -q -- '- --store=$(FERSERVE_STORE_URL)' "$tmp/default.yaml"
# The generated encryption key is 32 random bytes.
key="$(sed -n 's/^  store.key: //p' "$tmp/default.yaml")"
[ "$(printf '%s' "$key" | base64 -d | wc -c)" = 32 ]
# The pod outlives the server's drain.
grace="$(sed -n 's/^ *--grace_period=\([0-9]*\)s$/\1/p' "$tmp/default.yaml")"
termination="$(sed -n '/^ *terminationGracePeriodSeconds: /{s///p;q}' "$tmp/default.yaml")"
[ "$termination" -gt "$grace" ]
# gRPC probes on the health service.
[ "$(grep -c '^            grpc:$' "$tmp/default.yaml")" = 3 ]
# NetworkPolicies: ferserve's two ports open to all, the bundled Redis to
# ferserve's pods alone.
[ "$(grep -c '^kind: NetworkPolicy$' "$tmp/default.yaml")" = 2 ]
doc_of "NetworkPolicy" ferserve "$tmp/default.yaml" >"$tmp/np.yaml"
grep -q '^        - port: grpc$' "$tmp/np.yaml"
grep -q '^        - port: metrics$' "$tmp/np.yaml"
absent 'from:' "$tmp/np.yaml" "ferserve's ports closed to some peers by default"
doc_of "NetworkPolicy" ferserve-redis "$tmp/default.yaml" >"$tmp/np-redis.yaml"
grep -q '^        - port: redis$' "$tmp/np-redis.yaml"
sed -n '/^      from:$/,$p' "$tmp/np-redis.yaml" >"$tmp/np-redis-from.yaml"
grep -q '^              app.kubernetes.io/component: server$' "$tmp/np-redis-from.yaml"
[ "$(grep -c -- '- podSelector:' "$tmp/np-redis-from.yaml")" = 1 ]

echo "== every option on"
cat >"$tmp/all.yaml" <<'VALUES'
image: {repository: registry.example/ferserve, tag: "1.2.3"}
store:
  redisUrl: "rediss://ferserve:secret@redis.example:6380/2"
  encryption:
    key: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    previousKeys:
      - "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
      - "0101010101010101010101010101010101010101010101010101010101010101"
    reseal: true
auth:
  tokenHashes:
    tenant-a: [9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08]
gpu:
  enabled: true
  image: {repository: registry.example/ferserve-cuda}
  nodeSelector: {nvidia.com/gpu.present: "true"}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
networkPolicy:
  grpcFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
server:
  extraFlags: ["--enroll_max_yaw=0.3"]
  extraEnv: [{name: MALLOC_ARENA_MAX, value: "2"}]
  gracePeriodSeconds: 20
VALUES
render -f "$tmp/all.yaml" >"$tmp/all.out"
check_flags "$tmp/all.out"
grep -q '^kind: ServiceMonitor$' "$tmp/all.out"
grep -q 'nvidia.com/gpu: 1' "$tmp/all.out"
grep -q -- '--device=cuda' "$tmp/all.out"
grep -q 'image: "registry.example/ferserve-cuda:1.2.3"' "$tmp/all.out"
grep -q 'key: nvidia.com/gpu' "$tmp/all.out"                # toleration
grep -q 'nvidia.com/gpu.present: "true"' "$tmp/all.out"
grep -q 'name: ferserve-auth' "$tmp/all.out"
grep -q -- '--auth_tokens_file=/etc/ferserve/auth/tokens' "$tmp/all.out"
grep -q '^    tenant-a 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08$' "$tmp/all.out"
absent '--auth_tokens_file' "$tmp/default.yaml" "authentication on by default"
absent '^kind: Deployment$' <(sed -n '/name: ferserve-redis/,$p' "$tmp/all.out") \
  "a bundled Redis next to store.redisUrl"
grep -q 'terminationGracePeriodSeconds: 35' "$tmp/all.out"
# Key rotation: the older keys in the chart's Secret, mounted beside the key.
flags_of "$tmp/all.out" >"$tmp/all.flags"
grep -qx -- '--store_previous_key_files=/etc/ferserve/store-key/previous-0.key,/etc/ferserve/store-key/previous-1.key' \
  "$tmp/all.flags"
grep -qx -- '--store_reseal' "$tmp/all.flags"
previous0="$(sed -n 's/^  previous-0.key: //p' "$tmp/all.out")"
[ "$(printf '%s' "$previous0" | base64 -d)" = ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100 ]
absent '--store_previous_key_files' "$tmp/default.yaml" "older store keys by default"
# A new key in the values rolls the pods, though the flagfile stays the same.
keys_checksum() { sed -n 's/^ *checksum\/store-keys: //p' "$1"; }
config_checksum() { sed -n 's/^ *checksum\/config: //p' "$1"; }
sed 's/"0101010101010101010101010101010101010101010101010101010101010101"/"0202020202020202020202020202020202020202020202020202020202020202"/' \
  "$tmp/all.yaml" >"$tmp/all-rotated.yaml"
render -f "$tmp/all-rotated.yaml" >"$tmp/all-rotated.out"
[ "$(config_checksum "$tmp/all.out")" = "$(config_checksum "$tmp/all-rotated.out")" ]
[ -n "$(keys_checksum "$tmp/all.out")" ]
[ "$(keys_checksum "$tmp/all.out")" != "$(keys_checksum "$tmp/all-rotated.out")" ]
absent '--store_reseal' "$tmp/default.yaml" "resealing by default"
# With an external Redis, ferserve's policy alone, each port to its peers.
[ "$(grep -c '^kind: NetworkPolicy$' "$tmp/all.out")" = 1 ]
doc_of "NetworkPolicy" ferserve "$tmp/all.out" >"$tmp/np.yaml"
sed -n '/- port: grpc$/,/- port: metrics$/p' "$tmp/np.yaml" >"$tmp/np-grpc.yaml"
grep -q 'metadata.name: ingress-nginx' "$tmp/np-grpc.yaml"
absent 'monitoring' "$tmp/np-grpc.yaml" "the metrics peers on the gRPC port"
sed -n '/- port: metrics$/,$p' "$tmp/np.yaml" | grep -q 'metadata.name: monitoring'
# Extra environment variables come after the store URL's.
env_of() { sed -n '/^          env:$/,/^          ports:$/p' "$1"; }
env_of "$tmp/all.out" | grep -A1 -- '- name: FERSERVE_STORE_URL$' | grep -q 'valueFrom:'
env_of "$tmp/all.out" | grep -A1 -- '- name: MALLOC_ARENA_MAX$' | grep -q 'value: "2"'
absent 'MALLOC_ARENA_MAX' "$tmp/default.yaml" "an extra environment variable by default"

echo "== one replica on RocksDB, existing secrets"
render --set redis.enabled=false --set replicaCount=1 --set autoscaling.enabled=false \
  --set store.rocksdb.persistence.enabled=true >"$tmp/rocksdb.out"
check_flags "$tmp/rocksdb.out"
grep -q -- '--store=rocksdb:///var/lib/ferserve/profiles' "$tmp/rocksdb.out"
grep -q 'type: Recreate' "$tmp/rocksdb.out"
grep -q 'claimName: ferserve-profiles' "$tmp/rocksdb.out"
absent '^          env:$' "$tmp/rocksdb.out" "an env list without a store URL or extra variables"
printf 'server:\n  extraEnv: [{name: MALLOC_ARENA_MAX, value: "2"}]\n' >"$tmp/env.yaml"
render --set redis.enabled=false --set replicaCount=1 --set autoscaling.enabled=false \
  -f "$tmp/env.yaml" >"$tmp/rocksdb-env.out"
env_of "$tmp/rocksdb-env.out" | grep -q -- '- name: MALLOC_ARENA_MAX$'
absent 'FERSERVE_STORE_URL' "$tmp/rocksdb-env.out" "a store URL on RocksDB"
printf 'store:\n  encryption:\n    previousKeyItems: [old-2025.key]\n' >"$tmp/items.yaml"
render --set store.existingUrlSecret=my-redis --set store.encryption.existingSecret=my-key \
  -f "$tmp/items.yaml" -external my-redis -external my-key >"$tmp/existing.out"
absent '^kind: Secret$' "$tmp/existing.out" "a Secret although existing ones are named"
flags_of "$tmp/existing.out" | grep -qx -- '--store_previous_key_files=/etc/ferserve/store-key/old-2025.key'
printf 'networkPolicy:\n  redisFrom: [{podSelector: {matchLabels: {app: profile-backup}}}]\n' \
  >"$tmp/redis-from.yaml"
render -f "$tmp/redis-from.yaml" >"$tmp/redis-from.out"
doc_of "NetworkPolicy" ferserve-redis "$tmp/redis-from.out" | sed -n '/^      from:$/,$p' \
  >"$tmp/np-redis-from.yaml"
[ "$(grep -c -- '- podSelector:' "$tmp/np-redis-from.yaml")" = 2 ]
grep -q '^              app.kubernetes.io/component: server$' "$tmp/np-redis-from.yaml"
grep -q '^              app: profile-backup$' "$tmp/np-redis-from.yaml"
render --set networkPolicy.enabled=false >"$tmp/no-policy.out"
absent '^kind: NetworkPolicy$' "$tmp/no-policy.out" "a NetworkPolicy although disabled"

echo "== refused settings"
refused() {  # expected-message args...
  local want="$1"; shift
  if render "$@" >"$tmp/refused.out" 2>"$tmp/refused.err"; then
    echo "rendered although it should be refused: $*" >&2; return 1
  fi
  grep -q "$want" "$tmp/refused.err" || { cat "$tmp/refused.err" >&2; return 1; }
}
refused "serves one replica only" --set redis.enabled=false
refused "must exceed server.gracePeriodSeconds" --set server.gracePeriodSeconds=30
refused "64 hex characters" --set store.encryption.key=short
refused "fallback or fail" --set server.storeFailurePolicy=ignore
refused "need store.encryption.enabled" --set store.encryption.enabled=false \
  --set store.encryption.reseal=true
printf 'store:\n  encryption:\n    previousKeys: [abc]\n' >"$tmp/short-previous.yaml"
refused "previousKeys\[0\] must be 64 hex characters" -f "$tmp/short-previous.yaml"
refused "name their items in store.encryption.previousKeyItems" \
  --set store.encryption.existingSecret=my-key -f "$tmp/short-previous.yaml"
refused "names items of store.encryption.existingSecret" -f "$tmp/items.yaml"
printf 'store:\n  encryption:\n    previousKeyItems: [store.key]\n' >"$tmp/bad-item.yaml"
refused "is not the name of an older key's item" --set store.encryption.existingSecret=my-key \
  -f "$tmp/bad-item.yaml"
printf 'auth:\n  tokenHashes:\n    t: [a-token-not-its-hash]\n' >"$tmp/raw-token.yaml"
refused "not a lower-case hex SHA-256" -f "$tmp/raw-token.yaml"
# A missing external Secret is reported by the structural checks.
refused "missing Secret" --set store.existingUrlSecret=my-redis
echo "helm chart: OK"
