{{/* Shared names, labels, the database URL and the environment of the platform container. */}}

{{- define "archestra-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-archestra-platform, or <release> when it already contains the chart name; 63 characters max. */}}
{{- define "archestra-platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "archestra-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "archestra-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "archestra-platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "archestra-platform.labels" -}}
helm.sh/chart: {{ include "archestra-platform.chart" . }}
{{ include "archestra-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "archestra-platform.serviceAccountName" -}}
{{- $sa := .Values.archestra.orchestrator.kubernetes.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "archestra-platform.fullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{- define "archestra-platform.orchestratorNamespace" -}}
{{- default .Release.Namespace .Values.archestra.orchestrator.kubernetes.namespace -}}
{{- end -}}

{{/*
The Bitnami PostgreSQL chart's primary Service, named by that chart's own rule (common.names.fullname):
postgresql.fullnameOverride, else <release> when the release name contains the chart name (or nameOverride),
else <release>-<name>; "-primary" is appended in replication mode. The original chart assumed
<fullname>-postgresql, which matches only for release names that contain "archestra-platform".
*/}}
{{- define "archestra-platform.postgresql.host" -}}
{{- $pg := .Values.postgresql -}}
{{- $name := "" -}}
{{- if $pg.fullnameOverride -}}
{{- $name = $pg.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $chartName := default "postgresql" $pg.nameOverride -}}
{{- if contains $chartName .Release.Name -}}
{{- $name = .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name = printf "%s-%s" .Release.Name $chartName | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- if eq (default "standalone" $pg.architecture) "replication" -}}
{{- $name = printf "%s-primary" ($name | trunc 55 | trimSuffix "-") -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "archestra-platform.databaseUrl" -}}
{{- if .Values.postgresql.external_database_url -}}
{{- /* The URL wins, as the deployment guide's one-flag command expects. Helm decides whether to deploy a
dependency from its `condition` value alone (postgresql.enabled), so no template can switch the bundled one off
from this value: NOTES.txt says to add postgresql.enabled=false when it is still on. */ -}}
{{- .Values.postgresql.external_database_url -}}
{{- else if .Values.postgresql.enabled -}}
{{- $auth := .Values.postgresql.auth -}}
{{- printf "postgresql://%s:%s@%s:5432/%s" (urlquery $auth.username) (urlquery $auth.password) (include "archestra-platform.postgresql.host" .) $auth.database -}}
{{- else -}}
{{- fail "postgresql.enabled is false and postgresql.external_database_url is empty: the platform needs a database (set one of them)" -}}
{{- end -}}
{{- end -}}

{{/* host and port of the database, for the wait-for-postgres init container */}}
{{- define "archestra-platform.databaseHostPort" -}}
{{- $url := include "archestra-platform.databaseUrl" . -}}
{{- $rest := regexReplaceAll "^[a-zA-Z0-9+.-]+://" $url "" -}}
{{- $rest = regexReplaceAll "^[^@/]*@" $rest "" -}}
{{- $hostport := regexReplaceAll "[/?].*$" $rest "" -}}
{{- if regexMatch "^\\[.*\\]:[0-9]+$|^[^:\\[]+:[0-9]+$" $hostport -}}
{{- $hostport -}}
{{- else -}}
{{- printf "%s:5432" $hostport -}}
{{- end -}}
{{- end -}}

{{/* The container environment, in the original chart's order. */}}
{{- define "archestra-platform.env" -}}
{{- $a := .Values.archestra -}}
{{- $k := $a.orchestrator.kubernetes -}}
- name: ARCHESTRA_DATABASE_URL
  value: {{ include "archestra-platform.databaseUrl" . | quote }}
{{- if not (hasKey $a.env "ARCHESTRA_AUTH_SECRET") }}
- name: ARCHESTRA_AUTH_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "archestra-platform.fullname" . }}-auth
      key: auth-secret
{{- end }}
- name: ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE
  value: {{ include "archestra-platform.orchestratorNamespace" . | quote }}
{{- if $a.orchestrator.baseImage }}
- name: ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE
  value: {{ $a.orchestrator.baseImage | quote }}
{{- end }}
{{- if and $k.kubeconfig.enabled $k.kubeconfig.secretName }}
- name: ARCHESTRA_ORCHESTRATOR_KUBECONFIG
  value: {{ printf "%s/config" (trimSuffix "/" $k.kubeconfig.mountPath) | quote }}
{{- end }}
- name: ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER
  value: {{ $k.loadKubeconfigFromCurrentCluster | toString | quote }}
- name: ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS
  value: {{ include "archestra-platform.mcpAllowedHosts" . | quote }}
{{- range $key, $value := $a.env }}
{{- if ne $key "ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS" }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- range $a.envFromSecrets }}
- name: {{ required "archestra.envFromSecrets[].name is required" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ required "archestra.envFromSecrets[].secretName is required" .secretName }}
      key: {{ required "archestra.envFromSecrets[].secretKey is required" .secretKey }}
{{- end }}
{{- end -}}

{{/* The API listener's port, as the platform reads archestra.env.ARCHESTRA_API_BASE_URL: its explicit port,
else 9000 whatever the scheme (Settings::apiPort). */}}
{{- define "archestra-platform.apiPort" -}}
{{- $url := toString (default "" (index .Values.archestra.env "ARCHESTRA_API_BASE_URL")) -}}
{{- $authority := regexReplaceAll "^[a-zA-Z0-9+.-]+://" $url "" -}}
{{- $authority = regexReplaceAll "[/?#].*$" $authority "" -}}
{{- $authority = regexReplaceAll "^.*@" $authority "" -}}
{{- if regexMatch ":[0-9]+$" $authority -}}
{{- regexFind "[0-9]+$" $authority -}}
{{- else -}}
9000
{{- end -}}
{{- end -}}

{{/* Host names the MCP gateway answers under besides loopback, address literals and the hosts of the API and
frontend URLs: the Service's in-cluster names, the Ingress hosts, and what archestra.env adds. */}}
{{- define "archestra-platform.mcpAllowedHosts" -}}
{{- $fullname := include "archestra-platform.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list $fullname (printf "%s.%s" $fullname $ns) (printf "%s.%s.svc" $fullname $ns) (printf "%s.%s.svc.cluster.local" $fullname $ns) -}}
{{- range .Values.archestra.ingress.hosts -}}
{{- if .host -}}
{{- $hosts = append $hosts .host -}}
{{- end -}}
{{- end -}}
{{- with (index .Values.archestra.env "ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS") -}}
{{- $hosts = append $hosts (toString .) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}
