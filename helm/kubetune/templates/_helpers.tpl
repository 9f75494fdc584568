{{/* Object-name prefix: the release name, plus the chart name when the release name lacks it. */}}
{{- define "kubetune.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. app.kubernetes.io/name=kubetune is also what the NetworkPolicies admit. */}}
{{- define "kubetune.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "kubetune.selectorLabels" . }}
{{- end -}}

{{- define "kubetune.selectorLabels" -}}
app.kubernetes.io/name: kubetune
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "mlflow") */}}
{{- define "kubetune.componentSelector" -}}
{{ include "kubetune.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubetune.componentLabels" -}}
{{ include "kubetune.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubetune.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Pod security context; a component may pass its own user id: (dict "ctx" $ "uid" 70) */}}
{{- define "kubetune.podSecurityContext" -}}
{{- $sc := deepCopy .ctx.Values.podSecurityContext -}}
{{- if .uid -}}
{{- $_ := set $sc "runAsUser" .uid -}}
{{- $_ := set $sc "runAsGroup" .uid -}}
{{- $_ := set $sc "fsGroup" .uid -}}
{{- end -}}
{{- toYaml $sc -}}
{{- end -}}

{{- define "kubetune.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{- define "kubetune.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ---- PostgreSQL: host, port, user and the Secret that holds `password` and `study-url` ---- */}}
{{- define "kubetune.db.host" -}}
{{- if .Values.postgresql.enabled -}}
{{ include "kubetune.fullname" . }}-postgresql
{{- else -}}
{{ required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host }}
{{- end -}}
{{- end -}}

{{- define "kubetune.db.port" -}}
{{- if .Values.postgresql.enabled -}}5432{{- else -}}{{ .Values.externalDatabase.port }}{{- end -}}
{{- end -}}

{{- define "kubetune.db.user" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.auth.username }}{{- else -}}{{ .Values.externalDatabase.username }}{{- end -}}
{{- end -}}

{{- define "kubetune.db.existingSecret" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.auth.existingSecret }}{{- else -}}{{ .Values.externalDatabase.existingSecret }}{{- end -}}
{{- end -}}

{{- define "kubetune.db.secret" -}}
{{- include "kubetune.db.existingSecret" . | default (printf "%s-db" (include "kubetune.fullname" .)) -}}
{{- end -}}

{{/* A URL whose password comes from $(DB_PASSWORD), expanded by the kubelet from the Secret: (dict "ctx" $ "scheme" "postgresql+psycopg" "db" "mlflow") */}}
{{- define "kubetune.db.url" -}}
{{ .scheme }}://{{ include "kubetune.db.user" .ctx }}:$(DB_PASSWORD)@{{ include "kubetune.db.host" .ctx }}:{{ include "kubetune.db.port" .ctx }}/{{ .db }}
{{- end -}}

{{- define "kubetune.db.passwordEnv" -}}
- name: DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kubetune.db.secret" . }}
      key: password
{{- end -}}

{{/* ---- S3 ---- */}}
{{- define "kubetune.s3.secret" -}}
{{- .Values.s3.existingSecret | default (printf "%s-s3" (include "kubetune.fullname" .)) -}}
{{- end -}}

{{- define "kubetune.s3.endpoint" -}}
{{- if .Values.s3.endpointUrl -}}
{{ .Values.s3.endpointUrl }}
{{- else if .Values.minio.enabled -}}
http://{{ include "kubetune.fullname" . }}-minio:9000
{{- end -}}
{{- end -}}

{{/* S3 credentials and endpoint for a container that reads or writes artifacts. */}}
{{- define "kubetune.s3.env" -}}
{{- if or .Values.minio.enabled .Values.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ include "kubetune.s3.secret" . }}, key: access-key-id}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "kubetune.s3.secret" . }}, key: secret-access-key}
{{- end }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.s3.region | quote }}
{{- with include "kubetune.s3.endpoint" . }}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ . | quote }}
- name: KUBETUNE_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* ---- MLflow and Prefect endpoints ---- */}}
{{- define "kubetune.mlflow.url" -}}
http://{{ include "kubetune.fullname" . }}-mlflow:{{ .Values.mlflow.port }}
{{- end -}}

{{- define "kubetune.mlflow.authSecret" -}}
{{- .Values.mlflow.auth.existingSecret | default (printf "%s-mlflow-auth" (include "kubetune.fullname" .)) -}}
{{- end -}}

{{/* What a client of MLflow (controller, retrain) needs: the URL and, with auth on, the admin credentials. */}}
{{- define "kubetune.mlflow.clientEnv" -}}
- name: MLFLOW_TRACKING_URI
  value: {{ include "kubetune.mlflow.url" . | quote }}
{{- if .Values.mlflow.auth.enabled }}
- name: MLFLOW_TRACKING_USERNAME
  value: {{ .Values.mlflow.auth.adminUsername | quote }}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "kubetune.mlflow.authSecret" . }}, key: password}
{{- end }}
{{- end -}}

{{- define "kubetune.prefect.apiUrl" -}}
{{- if .Values.prefect.externalApiUrl -}}
{{ .Values.prefect.externalApiUrl }}
{{- else -}}
http://{{ include "kubetune.fullname" . }}-prefect:{{ .Values.prefect.server.port }}/api
{{- end -}}
{{- end -}}

{{- define "kubetune.prefect.clientEnv" -}}
- name: PREFECT_API_URL
  value: {{ include "kubetune.prefect.apiUrl" . | quote }}
{{- if and .Values.prefect.externalApiUrl .Values.prefect.apiKeySecret }}
- name: PREFECT_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.prefect.apiKeySecret }}, key: api-key}
{{- end }}
- name: DO_NOT_TRACK
  value: "1"
- name: PREFECT_SERVER_ANALYTICS_ENABLED
  value: "false"
- name: PREFECT_HOME
  value: /tmp/prefect
{{- end -}}

{{- define "kubetune.controller.serviceAccount" -}}
{{- .Values.controller.serviceAccount.name | default (printf "%s-controller" (include "kubetune.fullname" .)) -}}
{{- end -}}

{{- define "kubetune.trial.serviceAccount" -}}
{{ include "kubetune.fullname" . }}-trial
{{- end -}}

{{/* The environment of a controller pod (a retrain CronJob run or a Prefect flow run). */}}
{{- define "kubetune.flowRunEnv" -}}
{{- $env := include "kubetune.flowRunEnvLines" . -}}
{{- regexReplaceAll "\n\\s*\n" $env "\n" -}}
{{- end -}}

{{- define "kubetune.flowRunEnvLines" -}}
- name: KUBETUNE_STORAGE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "kubetune.db.secret" . }}, key: study-url}
{{ include "kubetune.mlflow.clientEnv" . }}
{{ include "kubetune.s3.env" . }}
{{ include "kubetune.prefect.clientEnv" . }}
- {name: HOME, value: /tmp}
- {name: KUBETUNE_CACHE_DIR, value: /tmp/kubetune-cache}
- {name: KUBETUNE_WORKDIR, value: /tmp/kubetune}
{{- end -}}
