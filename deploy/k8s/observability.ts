// The observability part of deploy/k8s/shop.yaml: Jaeger (traces over OTLP/HTTP, UI and query API on 16686),
// Prometheus (discovers the shop's pods by their prometheus.io annotations and scrapes each sidecar's /metrics on its
// plaintext health listener), and what every pod needs to take part: the OTEL variables and the annotations.
import { stringify } from "yaml";

const JAEGER_IMAGE = "jaegertracing/jaeger:2.21.0";
const PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0";
const part = (name: string) => ({ app: name, "app.kubernetes.io/part-of": "grpc-mesh" });

/** Tracing on for a process (app or sidecar), with the standard OpenTelemetry variables; everything is sampled. */
export const OTEL_ENV = [
  { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://jaeger:4318" },
  { name: "OTEL_TRACES_SAMPLER", value: "parentbased_traceidratio" },
  { name: "OTEL_TRACES_SAMPLER_ARG", value: "1.0" },
];

/** On a pod template: Prometheus scrapes the sidecar's /metrics on its health listener (the admin one is loopback). */
export function scrapeAnnotations(port: number) {
  return { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" };
}

/**
 * Pods of Prometheus's own namespace that ask for it by annotation, at the annotated port and path. The address is
 * built from the pod's IP, so a pod with several container ports is one target, not one per port.
 */
const prometheusConfig = {
  global: { scrape_interval: "15s", evaluation_interval: "15s" },
  scrape_configs: [
    {
      job_name: "mesh-pods",
      kubernetes_sd_configs: [{ role: "pod", namespaces: { own_namespace: true } }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" },
        { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
        {
          source_labels: ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
          regex: "(.+);(\\d+)",
          replacement: "$1:$2",
          target_label: "__address__",
        },
        {
          source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
          regex: "(.+)",
          target_label: "__metrics_path__",
        },
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        { source_labels: ["__meta_kubernetes_pod_label_app"], target_label: "service" },
      ],
    },
  ],
};

const jaeger: unknown[] = [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "jaeger", labels: part("jaeger") },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "jaeger" } },
      template: {
        metadata: { labels: part("jaeger") },
        spec: {
          containers: [
            {
              name: "jaeger",
              image: JAEGER_IMAGE,
              // Jaeger v2's default configuration is the all-in-one: OTLP in, in-memory storage bounded to 100,000
              // traces (for looking at the shop, not for keeping traces), the UI and query API on 16686.
              ports: [
                { name: "otlp-http", containerPort: 4318 },
                { name: "otlp-grpc", containerPort: 4317 },
                { name: "ui", containerPort: 16686 },
              ],
              readinessProbe: { tcpSocket: { port: "ui" }, periodSeconds: 5 },
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "jaeger", labels: part("jaeger") },
    spec: {
      selector: { app: "jaeger" },
      ports: [
        { name: "otlp-http", port: 4318, targetPort: "otlp-http" },
        { name: "otlp-grpc", port: 4317, targetPort: "otlp-grpc" },
        { name: "ui", port: 16686, targetPort: "ui" },
      ],
    },
  },
];

/**
 * Pod discovery needs get/list/watch on pods. The ClusterRole is bound by a RoleBinding, in whatever namespace the
 * file is applied to: a ClusterRoleBinding would have to name the ServiceAccount's namespace, which this file leaves
 * to `kubectl apply -n`, and Prometheus only looks at its own namespace anyway.
 */
const prometheus: unknown[] = [
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "prometheus", labels: part("prometheus") } },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "grpc-mesh-prometheus", labels: part("prometheus") },
    rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "prometheus", labels: part("prometheus") },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "grpc-mesh-prometheus" },
    subjects: [{ kind: "ServiceAccount", name: "prometheus" }],
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "prometheus-config", labels: part("prometheus") },
    data: { "prometheus.yml": stringify(prometheusConfig, { lineWidth: 0 }) },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "prometheus", labels: part("prometheus") },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "prometheus" } },
      template: {
        metadata: { labels: part("prometheus") },
        spec: {
          serviceAccountName: "prometheus",
          containers: [
            {
              name: "prometheus",
              image: PROMETHEUS_IMAGE,
              args: [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=2d",
              ],
              ports: [{ name: "web", containerPort: 9090 }],
              readinessProbe: { httpGet: { path: "/-/ready", port: "web" }, periodSeconds: 5 },
              volumeMounts: [
                { name: "config", mountPath: "/etc/prometheus", readOnly: true },
                { name: "data", mountPath: "/prometheus" },
              ],
              resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
            },
          ],
          volumes: [
            { name: "config", configMap: { name: "prometheus-config" } },
            { name: "data", emptyDir: {} },
          ],
        },
      },
    },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "prometheus", labels: part("prometheus") },
    spec: { selector: { app: "prometheus" }, ports: [{ name: "web", port: 9090, targetPort: "web" }] },
  },
];

/** Jaeger's and Prometheus's documents, in the order they are applied. */
export const observabilityDocuments: unknown[] = [...jaeger, ...prometheus];
