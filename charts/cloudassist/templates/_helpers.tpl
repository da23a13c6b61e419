{{/*
Names, labels, the image, and the pieces every CloudAssist container shares (environment, volumes).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "cloudassist.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name: fullnameOverride, the release name if it contains the chart name, else "<release>-<name>". */}}
{{- define "cloudassist.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "cloudassist.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable for the life of a release (Deployment selectors are immutable). */}}
{{- define "cloudassist.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudassist.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "cloudassist.labels" -}}
helm.sh/chart: {{ include "cloudassist.chart" . }}
{{ include "cloudassist.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cloudassist
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component's resources: (dict "root" $ "component" "web"). */}}
{{- define "cloudassist.componentLabels" -}}
{{ include "cloudassist.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component's pods: (dict "root" $ "component" "web"). */}}
{{- define "cloudassist.componentSelectorLabels" -}}
{{ include "cloudassist.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image reference: repository:tag or repository@digest (tag defaults to appVersion). */}}
{{- define "cloudassist.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "cloudassist.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cloudassist.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read: existingSecret, or the one this chart creates. */}}
{{- define "cloudassist.secretName" -}}
{{- default (include "cloudassist.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* The name bitnami's common.names.fullname gives a subchart: (dict "root" $ "name" "mongodb" "values" $.Values.mongodb). */}}
{{- define "cloudassist.subchartFullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .name .values.nameOverride -}}
{{- if contains $name .root.Release.Name -}}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .root.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The mongodb subchart's full name (its StatefulSet and Secret). */}}
{{- define "cloudassist.mongodb.fullname" -}}
{{- include "cloudassist.subchartFullname" (dict "root" . "name" "mongodb" "values" .Values.mongodb) -}}
{{- end -}}

{{/* The redis subchart's full name (its Secret; the master Service is "<fullname>-master"). */}}
{{- define "cloudassist.redis.fullname" -}}
{{- include "cloudassist.subchartFullname" (dict "root" . "name" "redis" "values" .Values.redis) -}}
{{- end -}}

{{/*
MONGODB_URI when the mongodb subchart is on: every replica set member by its stable DNS name
(<fullname>-<i>.<fullname>-headless.<ns>.svc.<clusterDomain>:27017), the replicaSet parameter, and the
first user's database as authSource. $(MONGODB_PASSWORD) is expanded by the kubelet from the variable of
that name, which "cloudassist.env" defines first.
*/}}
{{- define "cloudassist.mongodb.uri" -}}
{{- $m := .Values.mongodb -}}
{{- $fullname := include "cloudassist.mongodb.fullname" . -}}
{{- $domain := default "cluster.local" $m.clusterDomain -}}
{{- $port := 27017 -}}
{{- $members := list -}}
{{- range $i := until (int (default 1 $m.replicaCount)) -}}
{{- $members = append $members (printf "%s-%d.%s-headless.%s.svc.%s:%d" $fullname $i $fullname $.Release.Namespace $domain $port) -}}
{{- end -}}
{{- $auth := $m.auth | default dict -}}
{{- $database := .Values.config.MONGODB_NAME -}}
{{- if and $auth.enabled $auth.databases -}}
{{- $database = first $auth.databases -}}
{{- end -}}
{{- $credentials := "" -}}
{{- if $auth.enabled -}}
{{- $credentials = printf "%s:$(MONGODB_PASSWORD)@" (first $auth.usernames) -}}
{{- end -}}
{{- $query := printf "replicaSet=%s" (default "rs0" $m.replicaSetName) -}}
{{- if $auth.enabled -}}
{{- $query = printf "%s&authSource=%s" $query $database -}}
{{- end -}}
{{- printf "mongodb://%s%s/%s?%s" $credentials (join "," $members) $database $query -}}
{{- end -}}

{{/* REDIS_URL when the redis subchart is on: its master Service, database 0. */}}
{{- define "cloudassist.redis.url" -}}
{{- $r := .Values.redis -}}
{{- $auth := $r.auth | default dict -}}
{{- $host := printf "%s-master.%s.svc.%s" (include "cloudassist.redis.fullname" .) .Release.Namespace (default "cluster.local" $r.clusterDomain) -}}
{{- if $auth.enabled -}}
{{- printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" $host -}}
{{- else -}}
{{- printf "redis://%s:6379/0" $host -}}
{{- end -}}
{{- end -}}

{{/* Comma-separated, de-duplicated ALLOWED_HOSTS: the configured hosts, the ingress hosts, localhost (probes). */}}
{{- define "cloudassist.allowedHosts" -}}
{{- $hosts := list -}}
{{- range .Values.allowedHosts }}{{ $hosts = append $hosts . }}{{ end -}}
{{- if .Values.ingress.enabled -}}
{{- range .Values.ingress.hosts }}{{ if .host }}{{ $hosts = append $hosts .host }}{{ end }}{{ end -}}
{{- end -}}
{{- $hosts = append $hosts "localhost" -}}
{{- join "," (uniq $hosts) -}}
{{- end -}}

{{/* Hosts that the ingress serves over TLS. */}}
{{- define "cloudassist.tlsHosts" -}}
{{- $hosts := list -}}
{{- range .Values.ingress.tls }}{{ range .hosts }}{{ $hosts = append $hosts . }}{{ end }}{{ end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* CSRF_TRUSTED_ORIGINS: csrfTrustedOrigins, or the ingress hosts with their scheme. */}}
{{- define "cloudassist.csrfTrustedOrigins" -}}
{{- if .Values.csrfTrustedOrigins -}}
{{- join "," .Values.csrfTrustedOrigins -}}
{{- else if .Values.ingress.enabled -}}
{{- $tls := splitList "," (include "cloudassist.tlsHosts" .) -}}
{{- $origins := list -}}
{{- range .Values.ingress.hosts -}}
{{- if .host -}}
{{- $origins = append $origins (printf "%s://%s" (ternary "https" "http" (has .host $tls)) .host) -}}
{{- end -}}
{{- end -}}
{{- join "," (uniq $origins) -}}
{{- end -}}
{{- end -}}

{{/* SITE_URL: siteUrl, or the first ingress host with its scheme. */}}
{{- define "cloudassist.siteUrl" -}}
{{- if .Values.siteUrl -}}
{{- .Values.siteUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- $host := (first .Values.ingress.hosts).host -}}
{{- if $host -}}
{{- $tls := splitList "," (include "cloudassist.tlsHosts" .) -}}
{{- printf "%s://%s" (ternary "https" "http" (has $host $tls)) $host -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Checks that values make a working release; fails the render with a message naming the value otherwise.
Included by the ConfigMap (always rendered).
*/}}
{{- define "cloudassist.validate" -}}
{{- if not .Values.existingSecret -}}
{{- if not .Values.secrets.secretKey -}}
{{- fail "secrets.secretKey is required (Django's SECRET_KEY), or set existingSecret to a Secret with the key secret-key" -}}
{{- end -}}
{{- if not .Values.secrets.secretsKeys -}}
{{- fail "secrets.secretsKeys is required (SECRETS_KEYS: comma-separated Fernet keys), or set existingSecret to a Secret with the key secrets-keys" -}}
{{- end -}}
{{- if and (not .Values.mongodb.enabled) (not .Values.externalMongodb.uri) -}}
{{- fail "externalMongodb.uri is required when mongodb.enabled is false (or set existingSecret to a Secret with the key mongodb-uri)" -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not .Values.externalRedis.url) -}}
{{- fail "externalRedis.url is required when redis.enabled is false (or set existingSecret to a Secret with the key redis-url)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not .Values.secrets.metricsToken) -}}
{{- fail "secrets.metricsToken is required when serviceMonitor.enabled is true (Prometheus sends it to GET /metrics)" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.mongodb.enabled (ne (toString .Values.mongodb.architecture) "replicaset") -}}
{{- fail "mongodb.architecture must be replicaset: CloudAssist needs MongoDB transactions" -}}
{{- end -}}
{{- if and .Values.mongodb.enabled .Values.mongodb.auth.enabled (not .Values.mongodb.auth.usernames) -}}
{{- fail "mongodb.auth.usernames needs the application user (e.g. [cloudassist]) when mongodb.auth.enabled is true" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) -}}
{{- fail "ingress.hosts needs at least one host when ingress.enabled is true" -}}
{{- end -}}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) -}}
{{- fail "otel.endpoint is required when otel.enabled is true (e.g. http://otel-collector:4318)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "serviceMonitor.enabled needs metrics.enabled (the worker's metrics port)" -}}
{{- end -}}
{{- end -}}

{{/* A secretKeyRef env var: (dict "secret" "<secret name>" "name" "SECRET_KEY" "key" "secret-key" "optional" false). */}}
{{- define "cloudassist.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
The environment of every CloudAssist container: (dict "root" $ "component" "web" "extraEnv" list), and
"secret" to read another Secret than "cloudassist.secretName" (the migrations hook reads its own copy).
Non-secret settings come from the ConfigMap (envFrom), secrets from the Secret (secretKeyRef); optional
secrets are optional references, so a missing key leaves the variable unset.
*/}}
{{- define "cloudassist.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $secret := default (include "cloudassist.secretName" $root) .secret -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
# localhost for the probes (Host: localhost), the pod IP for Prometheus' scrapes.
- name: ALLOWED_HOSTS
  value: {{ printf "%s,$(POD_IP)" (include "cloudassist.allowedHosts" $root) | quote }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "SECRET_KEY" "key" "secret-key") }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "SECRETS_KEYS" "key" "secrets-keys") }}
{{- if $v.mongodb.enabled }}
{{- if $v.mongodb.auth.enabled }}
- name: MONGODB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "cloudassist.mongodb.fullname" $root) $v.mongodb.auth.existingSecret }}
      key: mongodb-passwords
{{- end }}
- name: MONGODB_URI
  value: {{ include "cloudassist.mongodb.uri" $root | quote }}
{{- else }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "MONGODB_URI" "key" "mongodb-uri") }}
{{- end }}
{{- if $v.redis.enabled }}
{{- if $v.redis.auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "cloudassist.redis.fullname" $root) $v.redis.auth.existingSecret }}
      key: {{ default "redis-password" $v.redis.auth.existingSecretPasswordKey }}
{{- end }}
- name: REDIS_URL
  value: {{ include "cloudassist.redis.url" $root | quote }}
{{- else }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "REDIS_URL" "key" "redis-url") }}
{{- end }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "EMAIL_URL" "key" "email-url" "optional" true) }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "WEBHOOK_SIGNING_SECRET" "key" "webhook-signing-secret" "optional" true) }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "METRICS_TOKEN" "key" "metrics-token" "optional" true) }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "SHARED_CLUSTER_KUBECONFIG_DATA" "key" "shared-cluster-kubeconfig" "optional" true) }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "AWS_ACCESS_KEY_ID" "key" "aws-access-key-id" "optional" true) }}
{{ include "cloudassist.secretEnv" (dict "secret" $secret "name" "AWS_SECRET_ACCESS_KEY" "key" "aws-secret-access-key" "optional" true) }}
{{- if has .component (list "web" "worker" "notifier") }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: {{ $v.metrics.multiprocDir | quote }}
{{- end }}
{{- if and (has .component (list "worker" "notifier")) $v.metrics.enabled }}
- name: WORKER_METRICS_PORT
  value: {{ $v.metrics.workerPort | quote }}
{{- end }}
{{- if $v.otel.enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "cloudassist-%s" .component | quote }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
{{- with $v.otel.protocol }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- $attributes := dict "service.namespace" "cloudassist" "service.version" (toString $root.Chart.AppVersion) "k8s.namespace.name" $root.Release.Namespace "k8s.pod.name" "$(POD_NAME)" -}}
{{- $attributes = merge (deepCopy ($v.otel.resourceAttributes | default dict)) $attributes -}}
{{- $pairs := list -}}
{{- range $key := keys $attributes | sortAlpha }}{{ $pairs = append $pairs (printf "%s=%s" $key (get $attributes $key)) }}{{ end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $pairs | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* envFrom of every CloudAssist container: the ConfigMap (or its hook copy), then extraEnvFrom. */}}
{{- define "cloudassist.envFrom" -}}
- configMapRef:
    name: {{ .configMap }}
{{- with .root.Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes of every CloudAssist pod: /tmp, and the Prometheus multiprocess directory. */}}
{{- define "cloudassist.volumes" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
- name: prometheus-multiproc
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* Volume mounts of every CloudAssist container. */}}
{{- define "cloudassist.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: prometheus-multiproc
  mountPath: {{ .Values.metrics.multiprocDir }}
{{- end -}}

{{/* Pod-level fields every CloudAssist pod shares. */}}
{{- define "cloudassist.podSpecCommon" -}}
serviceAccountName: {{ include "cloudassist.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Pod template annotations: config/secret checksums (a changed setting rolls the pods), then podAnnotations. */}}
{{- define "cloudassist.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if .root.Values.existingSecret }}
checksum/secret: {{ .root.Values.existingSecret | sha256sum }}
{{- else }}
checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Topology spread constraints with the component's selector filled in when omitted. */}}
{{- define "cloudassist.topologySpread" -}}
{{- $selector := fromYaml (include "cloudassist.componentSelectorLabels" (dict "root" .root "component" .component)) -}}
{{- $constraints := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) -}}
{{- end -}}
{{- $constraints = append $constraints $c -}}
{{- end -}}
{{- toYaml $constraints -}}
{{- end -}}

{{/* The ConfigMap's data: `config`, plus the derived CSRF_TRUSTED_ORIGINS and SITE_URL. */}}
{{- define "cloudassist.configData" -}}
{{- range $key := keys .Values.config | sortAlpha }}
{{- $value := get $.Values.config $key }}
{{- if not (kindIs "invalid" $value) }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- with include "cloudassist.csrfTrustedOrigins" . }}
CSRF_TRUSTED_ORIGINS: {{ . | quote }}
{{- end }}
{{- with include "cloudassist.siteUrl" . }}
SITE_URL: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The Secret's data (base64): the required keys, then the optional ones that are set. */}}
{{- define "cloudassist.secretData" -}}
{{- $s := .Values.secrets -}}
secret-key: {{ $s.secretKey | b64enc | quote }}
secrets-keys: {{ $s.secretsKeys | b64enc | quote }}
{{- if not .Values.mongodb.enabled }}
mongodb-uri: {{ .Values.externalMongodb.uri | b64enc | quote }}
{{- end }}
{{- if not .Values.redis.enabled }}
redis-url: {{ .Values.externalRedis.url | b64enc | quote }}
{{- end }}
{{- $optional := dict "email-url" $s.emailUrl "webhook-signing-secret" $s.webhookSigningSecret "metrics-token" $s.metricsToken "shared-cluster-kubeconfig" $s.sharedClusterKubeconfig "aws-access-key-id" $s.awsAccessKeyId "aws-secret-access-key" $s.awsSecretAccessKey }}
{{- range $key := keys $optional | sortAlpha }}
{{- with get $optional $key }}
{{ $key }}: {{ . | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Hook events of the migrations Job (see migrations.hookEvents in values.yaml). */}}
{{- define "cloudassist.migrations.hookEvents" -}}
{{- if .Values.migrations.hookEvents -}}
{{- .Values.migrations.hookEvents -}}
{{- else if .Values.mongodb.enabled -}}
post-install,pre-upgrade
{{- else -}}
pre-install,pre-upgrade
{{- end -}}
{{- end -}}
