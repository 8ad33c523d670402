{{/* Bitnami's common.names.fullname and primary naming, under stand-in names. */}}
{{- define "pgstandin.fullname" -}}
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
{{- define "pgstandin.primary" -}}
{{- if eq .Values.architecture "replication" -}}
{{- printf "%s-primary" (include "pgstandin.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- else -}}
{{- include "pgstandin.fullname" . -}}
{{- end -}}
{{- end -}}
