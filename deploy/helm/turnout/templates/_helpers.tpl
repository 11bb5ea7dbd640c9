{{/* Names and labels. */}}
{{- define "turnout.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "turnout.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "turnout.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "turnout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: turnout
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" NAME). */}}
{{- define "turnout.selectorLabels" -}}
app.kubernetes.io/name: {{ include "turnout.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "turnout.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "turnout.secretName" -}}
{{- .Values.keys.existingSecret | default (printf "%s-keys" (include "turnout.fullname" .)) }}
{{- end }}

{{/* A channel id as a DNS label part: lower case, `_` -> `-`. */}}
{{- define "turnout.dnsPart" -}}
{{- . | lower | replace "_" "-" | replace "." "-" }}
{{- end }}

{{/*
Every StatefulSet to run, as JSON {"items":[{name, role, channel, replicas, resources, ports}]}:
the roles, the gateway when enabled, and one connector per channel of connectors.channels
(each must be a channel of config.channels).
*/}}
{{- define "turnout.components" -}}
{{- $items := list }}
{{- range $role := list "router" "risk" "state" "settlement" }}
{{- $r := index $.Values.roles $role }}
{{- $ports := list }}
{{- if eq $role "state" }}
{{- $ports = append $ports (dict "name" "http" "containerPort" (int $.Values.config.state.http_port)) }}
{{- end }}
{{- $items = append $items (dict "name" $role "role" $role "channel" "" "replicas" (int $r.replicas) "resources" ($r.resources | default dict) "ports" $ports) }}
{{- end }}
{{- if .Values.gateway.enabled }}
{{- $ports := list (dict "name" "http" "containerPort" (int .Values.gateway.config.port)) }}
{{- $items = append $items (dict "name" "gateway" "role" "gateway" "channel" "" "replicas" (int .Values.gateway.replicas) "resources" (.Values.gateway.resources | default dict) "ports" $ports) }}
{{- end }}
{{- $known := list }}
{{- range .Values.config.channels }}
{{- $known = append $known .id }}
{{- end }}
{{- range .Values.connectors.channels }}
{{- if not (has .id $known) }}
{{- fail (printf "connectors.channels: %q is not a channel of config.channels (%s)" .id (join ", " $known)) }}
{{- end }}
{{- $items = append $items (dict "name" (printf "connector-%s" (include "turnout.dnsPart" .id)) "role" "connector" "channel" .id "replicas" (int (.replicas | default $.Values.connectors.replicas)) "resources" (.resources | default $.Values.connectors.resources | default dict) "ports" (.ports | default list)) }}
{{- end }}
{{- toJson (dict "items" $items) }}
{{- end }}

{{/* The configuration file: values' config, with the bootstrap servers and the gateway section. */}}
{{- define "turnout.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg.kafka "bootstrap_servers" .Values.kafka.bootstrapServers }}
{{- if .Values.gateway.enabled }}
{{- $gw := deepCopy .Values.gateway.config }}
{{- if not $gw.state_url }}
{{- $_ := set $gw "state_url" (printf "http://%s-state-http:%d" (include "turnout.fullname" .) (int .Values.config.state.http_port)) }}
{{- end }}
{{- $_ := set $cfg "gateway" $gw }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* A component's StatefulSet, Service and PDB name: (dict "root" $ "component" NAME); at most
52 characters, so that the pods' controller-revision-hash label fits. */}}
{{- define "turnout.componentName" -}}
{{- printf "%s-%s" (include "turnout.fullname" .root) .component | trunc 52 | trimSuffix "-" }}
{{- end }}
