// Writes deploy/k8s/shop.yaml: for each service of the shop, a ConfigMap with its sidecar's config, a Deployment
// whose pods run the app and the sidecar side by side (probes on the sidecar's plaintext health listener; its admin endpoints stay on loopback), and a Service for
// the sidecar's inbound listener; and a Job that writes the mesh's intentions into Consul (deny by default, then the
// shop's call graph: the compose files in deploy/compose/intentions). NATS runs beside the shop as a three-node
// JetStream cluster (nats.ts), named in the mesh-infra ConfigMap. Consul and PostgreSQL are the cluster's own, named
// in the mesh-infra Secret; Consul needs Connect enabled on its servers (its CA issues the
// sidecars' mutual-TLS certificates) and an agent on each node (the pods reach it at the node's IP, port 8500; its
// health check reaches each sidecar's plaintext health listener on the pod's port 15021). Jaeger and Prometheus run
// beside the shop (observability.ts): every app and sidecar exports its traces to Jaeger, and every pod is annotated
// for Prometheus to scrape its sidecar's /metrics on that same health port.
//   kubectl port-forward svc/jaeger 16686      then http://localhost:16686 (traces)
//   kubectl port-forward svc/prometheus 9090   then http://localhost:9090 (metrics)
// Regenerate with:  npx tsx deploy/k8s/generate.ts   (a test checks the file is current)
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { SIDECAR_NODE_FLAGS } from "../../sidecar/src/launch.ts";
import { SHOP } from "../local/src/topology.ts";
import { NATS_URL, natsDocuments } from "./nats.ts";
import { OTEL_ENV, observabilityDocuments, scrapeAnnotations } from "./observability.ts";

const here = import.meta.dirname;
const IMAGE = "grpc-mesh:1.0.0";
const CONSUL_IMAGE = "hashicorp/consul:1.20";
/** The sidecars' plaintext health listener (tls.healthListen in their configs), which Consul's check calls. */
const HEALTH_PORT = 15021;
const labels = (service: string) => ({ app: service, "app.kubernetes.io/part-of": "grpc-mesh" });

/** The sidecar config of a service: the compose one, with Consul reached through the node's agent. */
function sidecarConfig(service: string): string {
  const config = readFileSync(join(here, "../compose/sidecars", `${service}.yaml`), "utf8");
  if (!config.includes(`tls: { healthListen: "0.0.0.0:${HEALTH_PORT}" }`))
    throw new Error(`deploy/compose/sidecars/${service}.yaml: expected tls.healthListen 0.0.0.0:${HEALTH_PORT}`);
  return config.replace(
    'consul: { address: "consul:8500" }',
    'consul: { address: "127.0.0.1:8500" } # CONSUL_HTTP_ADDR (the node\'s agent) overrides',
  );
}

/** The intentions the Job writes, and its script: the files of deploy/compose/intentions, shared with compose. */
const intentionsDir = join(here, "../compose/intentions");
const intentionFiles = Object.fromEntries(
  readdirSync(intentionsDir)
    .filter((name) => name.endsWith(".json") || name.endsWith(".sh"))
    .sort()
    .map((name) => [name, readFileSync(join(intentionsDir, name), "utf8")]),
);

/** Reaches the node's Consul agent, as the sidecars do. */
const consulEnv = [
  { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
  { name: "CONSUL_HTTP_ADDR", value: "$(HOST_IP):8500" },
];

function appEnv(service: string, database: string | undefined, calls: boolean) {
  const env: unknown[] = [
    { name: "NATS_URL", valueFrom: { configMapKeyRef: { name: "mesh-infra", key: "natsUrl" } } },
    { name: "GRPC_HOST", value: "127.0.0.1" },
    { name: "GRPC_PORT", value: "50051" },
  ];
  if (database)
    env.push({
      name: "DATABASE_URL",
      valueFrom: { secretKeyRef: { name: "mesh-infra", key: `${database}DatabaseUrl` } },
    });
  if (calls) env.push({ name: "SIDECAR_OUTBOUND", value: "127.0.0.1:15001" });
  if (service === "payment")
    env.push({ name: "PAYMENT_CARD_KEY", valueFrom: { secretKeyRef: { name: "mesh-infra", key: "paymentCardKey" } } });
  if (service === "gateway")
    env.push({ name: "GATEWAY_HTTP_HOST", value: "0.0.0.0" }, { name: "GATEWAY_HTTP_PORT", value: "8080" });
  return [...env, ...OTEL_ENV];
}

const documents: unknown[] = [
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "mesh-infra" },
    data: { natsUrl: NATS_URL },
  },
  {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "mesh-infra" },
    type: "Opaque",
    stringData: {
      orderDatabaseUrl: "postgres://order:CHANGE-ME@postgres.postgres.svc:5432/order",
      inventoryDatabaseUrl: "postgres://inventory:CHANGE-ME@postgres.postgres.svc:5432/inventory",
      paymentDatabaseUrl: "postgres://payment:CHANGE-ME@postgres.postgres.svc:5432/payment",
      // AES-256 key sealing card numbers in payment's database: 32 random bytes, base64 (openssl rand -base64 32).
      paymentCardKey: "CHANGE-ME",
    },
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "mesh-intentions", labels: labels("mesh-intentions") },
    data: intentionFiles,
  },
  {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "mesh-intentions", labels: labels("mesh-intentions") },
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: labels("mesh-intentions") },
        spec: {
          restartPolicy: "OnFailure",
          containers: [
            {
              name: "intentions",
              image: CONSUL_IMAGE,
              command: ["/bin/sh", "/etc/mesh/intentions/write.sh"],
              env: consulEnv,
              volumeMounts: [{ name: "intentions", mountPath: "/etc/mesh/intentions", readOnly: true }],
              resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "128Mi" } },
            },
          ],
          volumes: [{ name: "intentions", configMap: { name: "mesh-intentions" } }],
        },
      },
    },
  },
  ...natsDocuments,
  ...observabilityDocuments,
];

for (const plan of SHOP) {
  const { service } = plan;
  const ports = [
    { name: "mesh", containerPort: 15000 },
    { name: "health", containerPort: HEALTH_PORT },
  ];
  documents.push(
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${service}-sidecar`, labels: labels(service) },
      data: { "sidecar.yaml": sidecarConfig(service) },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: service, labels: labels(service) },
      spec: {
        replicas: plan.instances,
        selector: { matchLabels: { app: service } },
        template: {
          metadata: { labels: labels(service), annotations: scrapeAnnotations(HEALTH_PORT) },
          spec: {
            terminationGracePeriodSeconds: 30,
            // As compose's depends_on: the sidecar starts once the mesh-intentions Job has written the default deny
            // (without intentions it would refuse every call until they appear).
            initContainers: [
              {
                name: "wait-for-intentions",
                image: CONSUL_IMAGE,
                command: [
                  "/bin/sh",
                  "-c",
                  "until consul config read -kind service-intentions -name '*' >/dev/null 2>&1; do sleep 2; done",
                ],
                env: consulEnv,
                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
              },
            ],
            containers: [
              {
                name: "app",
                image: IMAGE,
                command: ["node", `services/${service}/dist/main.mjs`],
                env: appEnv(service, plan.database, plan.calls.length > 0),
                ...(service === "gateway" ? { ports: [{ name: "http", containerPort: 8080 }] } : {}),
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              },
              {
                name: "sidecar",
                image: IMAGE,
                command: [
                  "node",
                  ...SIDECAR_NODE_FLAGS,
                  "sidecar/bin/mesh-sidecar.js",
                  "--config",
                  "/etc/mesh/sidecar.yaml",
                ],
                env: [...consulEnv, ...OTEL_ENV],
                ports,
                readinessProbe: { httpGet: { path: "/readyz", port: "health" }, periodSeconds: 5 },
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "health" },
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                volumeMounts: [{ name: "sidecar-config", mountPath: "/etc/mesh", readOnly: true }],
                resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } },
              },
            ],
            volumes: [{ name: "sidecar-config", configMap: { name: `${service}-sidecar` } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: service, labels: labels(service) },
      spec: {
        selector: { app: service },
        ports: [
          { name: "mesh", port: 15000, targetPort: "mesh" },
          ...(service === "gateway" ? [{ name: "http", port: 80, targetPort: "http" }] : []),
        ],
      },
    },
  );
}

const header = "# Generated by deploy/k8s/generate.ts from the shop's topology and the sidecar configs; do not edit.\n";
const text =
  header +
  documents.map((document) => stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
if (process.argv.includes("--check")) {
  const current = readFileSync(join(here, "shop.yaml"), "utf8");
  if (current !== text) {
    console.error("deploy/k8s/shop.yaml is out of date: run npx tsx deploy/k8s/generate.ts");
    process.exit(1);
  }
} else {
  writeFileSync(join(here, "shop.yaml"), text);
}
