{{/* The prefix of every object's name. */}}
{{- define "kirikae.fullname" -}}
{{ default .Release.Name .Values.fullnameOverride }}
{{- end }}

{{- define "kirikae.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* Labels that select a release's pods; each object adds its component (and area). */}}
{{- define "kirikae.selectorLabels" -}}
app.kubernetes.io/name: kirikae
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kirikae.labels" -}}
{{ include "kirikae.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "kirikae.databaseSecret" -}}
{{ default (printf "%s-database" (include "kirikae.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "kirikae.fieldKeysSecret" -}}
{{ default (printf "%s-field-keys" (include "kirikae.fullname" .)) .Values.fieldKeys.existingSecret }}
{{- end }}

{{- define "kirikae.tlsSecret" -}}
{{ default (printf "%s-tls" (include "kirikae.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{/* The settings every process reads, as the settings ConfigMap's data. The listeners bind
every interface of the pod; tls_dir and connectors_dir are where the chart mounts them. */}}
{{- define "kirikae.settings" -}}
KIRIKAE_API_LISTEN: {{ printf "0.0.0.0:%d" .Values.ports.api | quote }}
KIRIKAE_OPS_LISTEN: {{ printf "0.0.0.0:%d" .Values.ports.ops | quote }}
KIRIKAE_TLS_DIR: /etc/kirikae/tls
KIRIKAE_CONNECTORS_DIR: /etc/kirikae/connectors
KIRIKAE_FIELD_KEYS_FILE: /etc/kirikae/field-keys/field-keys.json
KIRIKAE_FIELD_KEYS_CREATE: "false"
{{- range $key, $value := .Values.settings }}
{{ printf "KIRIKAE_%s" (upper $key) }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* The same settings as env entries, for the migrate hook, which runs before the ConfigMap
exists on a first install. The listeners
bind every interface of the pod; tls_dir and connectors_dir are where the chart mounts them. */}}
{{- define "kirikae.settingsEnv" -}}
- name: KIRIKAE_API_LISTEN
  value: {{ printf "0.0.0.0:%d" .Values.ports.api | quote }}
- name: KIRIKAE_OPS_LISTEN
  value: {{ printf "0.0.0.0:%d" .Values.ports.ops | quote }}
- name: KIRIKAE_TLS_DIR
  value: /etc/kirikae/tls
- name: KIRIKAE_CONNECTORS_DIR
  value: /etc/kirikae/connectors
- name: KIRIKAE_FIELD_KEYS_FILE
  value: /etc/kirikae/field-keys/field-keys.json
- name: KIRIKAE_FIELD_KEYS_CREATE
  value: "false"
{{- range $key, $value := .Values.settings }}
- name: {{ printf "KIRIKAE_%s" (upper $key) }}
  value: {{ $value | quote }}
{{- end }}
- name: KIRIKAE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "kirikae.databaseSecret" . }}
      key: url
{{- end }}

{{/* The security context, probes and writable folders every kirikae container has: the root
filesystem is read-only, so the working directory (where simulators and batch areas keep their
files) and /tmp are emptyDirs. */}}
{{- define "kirikae.containerCommon" -}}
imagePullPolicy: {{ .Values.image.pullPolicy }}
workingDir: /var/lib/kirikae
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: ops
  periodSeconds: {{ .Values.probes.periodSeconds }}
  failureThreshold: {{ .Values.probes.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: ops
  periodSeconds: {{ .Values.probes.periodSeconds }}
  failureThreshold: {{ .Values.probes.failureThreshold }}
{{- end }}

{{- define "kirikae.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
