{{/* Chart name, truncated to the 63 characters Kubernetes allows in names and labels. */}}
{{- define "vllm.name" -}}
{{- default "vllm" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full resource name: the release name unless overridden (the workflow addresses svc/<release>). */}}
{{- define "vllm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "vllm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: the workflow selects pods by app.kubernetes.io/instance=<release>. */}}
{{- define "vllm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vllm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vllm.labels" -}}
helm.sh/chart: {{ include "vllm.chart" . }}
{{ include "vllm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: inference-server
app.kubernetes.io/part-of: vllm-deploy
vllm.ai/model-size: {{ .Values.model.size }}
vllm-deploy/environment: {{ .Values.environment }}
{{- end }}

{{/* Name clients put in the "model" field. */}}
{{- define "vllm.servedModelName" -}}
{{- default (include "vllm.fullname" .) .Values.model.servedModelName }}
{{- end }}

{{/* The image reference; a tag starting with sha256: is a digest. */}}
{{- define "vllm.image" -}}
{{- if hasPrefix "sha256:" .Values.image.tag }}
{{- printf "%s@%s" .Values.image.repository .Values.image.tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{/* Startup probe failureThreshold covering the model-loading budget. */}}
{{- define "vllm.startupFailureThreshold" -}}
{{- $period := int .Values.startup.periodSeconds -}}
{{- div (add (int .Values.startup.budgetSeconds) (sub $period 1)) $period -}}
{{- end }}

{{- define "vllm.cacheClaimName" -}}
{{- default (printf "%s-model-cache" (include "vllm.fullname" .)) .Values.modelCache.persistence.existingClaim }}
{{- end }}

{{/* PromQL matchers of this release's vLLM series: the labels a ServiceMonitor scrape attaches (job = Service). */}}
{{- define "vllm.metricsSelector" -}}
{{- default (printf "job=%q, namespace=%q" (include "vllm.fullname" .) .Release.Namespace) .Values.prometheusRule.metricsSelector }}
{{- end }}

{{/* PromQL matchers of this release's pods in kube-state-metrics series (Deployment pods: <name>-<hash>-<id>). */}}
{{- define "vllm.podSelector" -}}
{{- default (printf "namespace=%q, pod=~%q" .Release.Namespace (printf "%s-[a-z0-9]{6,10}-[a-z0-9]{5}" (include "vllm.fullname" .))) .Values.prometheusRule.podSelector }}
{{- end }}
