{{/* Chart name, truncated to DNS label length. */}}
{{- define "ferserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name of the ferserve objects. */}}
{{- define "ferserve.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ferserve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object of the release, without a component. */}}
{{- define "ferserve.commonLabels" -}}
helm.sh/chart: {{ include "ferserve.chart" . }}
app.kubernetes.io/name: {{ include "ferserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the ferserve server's objects. */}}
{{- define "ferserve.labels" -}}
{{ include "ferserve.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels of the bundled Redis's objects. */}}
{{- define "ferserve.redisLabels" -}}
{{ include "ferserve.commonLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{/* Labels that select the bundled Redis's pod. */}}
{{- define "ferserve.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "ferserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{/* Labels that select ferserve's pods. */}}
{{- define "ferserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "ferserve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ferserve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Which profile store the replicas use: redis-url, redis-secret, redis-bundled or rocksdb. */}}
{{- define "ferserve.storeKind" -}}
{{- if .Values.store.redisUrl }}redis-url
{{- else if .Values.store.existingUrlSecret }}redis-secret
{{- else if .Values.redis.enabled }}redis-bundled
{{- else }}rocksdb
{{- end }}
{{- end }}

{{- define "ferserve.redisName" -}}
{{- printf "%s-redis" (include "ferserve.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Secret and key holding the store URL (Redis kinds). */}}
{{- define "ferserve.storeUrlSecretName" -}}
{{- if .Values.store.existingUrlSecret }}{{ .Values.store.existingUrlSecret }}
{{- else }}{{ printf "%s-store" (include "ferserve.fullname" .) }}
{{- end }}
{{- end }}

{{- define "ferserve.storeKeySecretName" -}}
{{- if .Values.store.encryption.existingSecret }}{{ .Values.store.encryption.existingSecret }}
{{- else }}{{ printf "%s-store-key" (include "ferserve.fullname" .) }}
{{- end }}
{{- end }}

{{/* The bundled Redis password: given, kept from an earlier install, or new. */}}
{{- define "ferserve.redisPassword" -}}
{{- if .Values.redis.password }}
{{- .Values.redis.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ferserve.redisName" .) }}
{{- if and $existing (index $existing "data") }}
{{- index $existing.data "password" | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ferserve.image" -}}
{{- $repo := .Values.image.repository }}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.gpu.enabled }}
{{- $repo = default $repo .Values.gpu.image.repository }}
{{- $tag = default $tag .Values.gpu.image.tag }}
{{- end }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/* Refuses settings that cannot work. */}}
{{- define "ferserve.validate" -}}
{{- if eq (include "ferserve.storeKind" .) "rocksdb" }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "the embedded RocksDB store serves one replica only: set store.redisUrl, store.existingUrlSecret or redis.enabled, or replicaCount=1 with autoscaling.enabled=false" }}
{{- end }}
{{- end }}
{{- if le (int (mul .Values.probes.liveness.periodSeconds .Values.probes.liveness.failureThreshold)) (int .Values.server.gracePeriodSeconds) }}
{{- fail "probes.liveness.periodSeconds * failureThreshold must exceed server.gracePeriodSeconds, or a drain looks like a hang" }}
{{- end }}
{{- if not (has .Values.server.storeFailurePolicy (list "fallback" "fail")) }}
{{- fail "server.storeFailurePolicy must be fallback or fail" }}
{{- end }}
{{- $encryption := .Values.store.encryption }}
{{- if and (or $encryption.previousKeys $encryption.previousKeyItems $encryption.reseal) (not $encryption.enabled) }}
{{- fail "store.encryption.previousKeys, previousKeyItems and reseal need store.encryption.enabled" }}
{{- end }}
{{- if and $encryption.existingSecret $encryption.previousKeys }}
{{- fail "with store.encryption.existingSecret, put the older keys in that Secret and name their items in store.encryption.previousKeyItems" }}
{{- end }}
{{- if and $encryption.previousKeyItems (not $encryption.existingSecret) }}
{{- fail "store.encryption.previousKeyItems names items of store.encryption.existingSecret; without it use store.encryption.previousKeys" }}
{{- end }}
{{- range $encryption.previousKeyItems }}
{{- if or (not (regexMatch "^[-._a-zA-Z0-9]+$" .)) (eq . "store.key") }}
{{- fail (printf "store.encryption.previousKeyItems: %q is not the name of an older key's item" .) }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas exceeds autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{/* The mounted files of the older store keys, comma-separated (empty: none). */}}
{{- define "ferserve.previousKeyFiles" -}}
{{- $files := list }}
{{- if .Values.store.encryption.existingSecret }}
{{- range .Values.store.encryption.previousKeyItems }}
{{- $files = append $files (printf "/etc/ferserve/store-key/%s" .) }}
{{- end }}
{{- else }}
{{- range $i, $key := .Values.store.encryption.previousKeys }}
{{- $files = append $files (printf "/etc/ferserve/store-key/previous-%d.key" $i) }}
{{- end }}
{{- end }}
{{- join "," $files }}
{{- end }}

{{/* The Secret with the tenants' token hashes, or empty without auth. */}}
{{- define "ferserve.authSecretName" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecret }}
{{- else if .Values.auth.tokenHashes }}{{ printf "%s-auth" (include "ferserve.fullname" .) }}
{{- end }}
{{- end }}
