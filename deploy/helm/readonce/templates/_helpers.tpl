{{- define "readonce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "readonce.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "readonce.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "readonce.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "readonce.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "readonce.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "readonce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "readonce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "readonce.redisName" -}}
{{- printf "%s-redis" (include "readonce.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "readonce.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "readonce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{/* The REDIS_MODE readonce runs in. */}}
{{- define "readonce.redisMode" -}}
{{- if eq .Values.redis.mode "sentinel" -}}sentinel
{{- else if eq .Values.redis.mode "cluster" -}}cluster
{{- else -}}single
{{- end -}}
{{- end -}}

{{/* REDIS_URL built from values (go-redis URL forms; see the README). */}}
{{- define "readonce.redisURL" -}}
{{- $r := .Values.redis -}}
{{- if eq $r.mode "bundled" -}}
{{- printf "redis://%s:6379/0" (include "readonce.redisName" .) -}}
{{- else if eq $r.mode "external" -}}
{{- required "redis.external.url (or redis.external.existingSecret) is required with redis.mode=external" $r.external.url -}}
{{- else if eq $r.mode "sentinel" -}}
{{- $addrs := required "redis.sentinel.addresses is required with redis.mode=sentinel" $r.sentinel.addresses -}}
{{- $auth := "" -}}{{- if $r.sentinel.password -}}{{- $auth = printf ":%s@" (urlquery $r.sentinel.password) -}}{{- end -}}
{{- printf "redis://%s%s?master_name=%s" $auth (first $addrs) (urlquery (required "redis.sentinel.masterName is required" $r.sentinel.masterName)) -}}
{{- range rest $addrs -}}&addr={{ . }}{{- end -}}
{{- else if eq $r.mode "cluster" -}}
{{- $addrs := required "redis.cluster.addresses is required with redis.mode=cluster" $r.cluster.addresses -}}
{{- $auth := "" -}}{{- if $r.cluster.password -}}{{- $auth = printf ":%s@" (urlquery $r.cluster.password) -}}{{- end -}}
{{- printf "redis://%s%s" $auth (first $addrs) -}}{{- if gt (len $addrs) 1 -}}?{{- range $i, $a := rest $addrs -}}{{- if $i -}}&{{- end -}}addr={{ $a }}{{- end -}}{{- end -}}
{{- else -}}
{{- fail (printf "redis.mode %q: want bundled, external, sentinel or cluster" $r.mode) -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key that hold REDIS_URL. */}}
{{- define "readonce.redisSecretName" -}}
{{- $r := .Values.redis -}}
{{- if and (eq $r.mode "external") $r.external.existingSecret -}}{{ $r.external.existingSecret }}
{{- else if and (eq $r.mode "sentinel") $r.sentinel.existingSecret -}}{{ $r.sentinel.existingSecret }}
{{- else if and (eq $r.mode "cluster") $r.cluster.existingSecret -}}{{ $r.cluster.existingSecret }}
{{- else -}}{{ include "readonce.fullname" . }}
{{- end -}}
{{- end -}}

{{- define "readonce.redisSecretKey" -}}
{{- if and (eq .Values.redis.mode "external") .Values.redis.external.existingSecret -}}{{ .Values.redis.external.existingSecretKey }}
{{- else -}}REDIS_URL
{{- end -}}
{{- end -}}

{{- define "readonce.usesOwnRedisSecret" -}}
{{- $r := .Values.redis -}}
{{- if or (and (eq $r.mode "external") $r.external.existingSecret) (and (eq $r.mode "sentinel") $r.sentinel.existingSecret) (and (eq $r.mode "cluster") $r.cluster.existingSecret) -}}false{{- else -}}true{{- end -}}
{{- end -}}

{{- define "readonce.secretKeyName" -}}
{{- default (include "readonce.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "readonce.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Hardened container security context, shared by every container. */}}
{{- define "readonce.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
