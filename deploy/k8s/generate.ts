// Writes deploy/k8s/shop.yaml: for each service of the shop, a ConfigMap with its sidecar's config, a Deployment
// whose pods run the app and the sidecar side by side (probes on the sidecar's admin endpoints), and a Service for
// the sidecar's inbound listener. Consul, NATS and PostgreSQL are the cluster's own, named in the mesh-infra
// ConfigMap and Secret. Regenerate with:  npx tsx deploy/k8s/generate.ts   (a test checks the file is current)
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { SHOP } from "../local/src/topology.ts";

const here = import.meta.dirname;
const IMAGE = "grpc-mesh:1.0.0";
const labels = (service: string) => ({ app: service, "app.kubernetes.io/part-of": "grpc-mesh" });

/** The sidecar config of a service: the compose one, with Consul reached through the node's agent. */
function sidecarConfig(service: string): string {
  return readFileSync(join(here, "../compose/sidecars", `${service}.yaml`), "utf8").replace(
    'consul: { address: "consul:8500" }',
    'consul: { address: "127.0.0.1:8500" } # CONSUL_HTTP_ADDR (the node\'s agent) overrides',
  );
}

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
  if (service === "gateway")
    env.push({ name: "GATEWAY_HTTP_HOST", value: "0.0.0.0" }, { name: "GATEWAY_HTTP_PORT", value: "8080" });
  return env;
}

const documents: unknown[] = [
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "mesh-infra" },
    data: { natsUrl: "nats://nats.nats.svc:4222" },
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
    },
  },
];

for (const plan of SHOP) {
  const { service } = plan;
  const ports = [
    { name: "mesh", containerPort: 15000 },
    { name: "admin", containerPort: 15090 },
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
          metadata: { labels: labels(service) },
          spec: {
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: "app",
                image: IMAGE,
                command: ["node", "--import", "tsx", `services/${service}/src/main.ts`],
                env: appEnv(service, plan.database, plan.calls.length > 0),
                ...(service === "gateway" ? { ports: [{ name: "http", containerPort: 8080 }] } : {}),
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              },
              {
                name: "sidecar",
                image: IMAGE,
                command: ["node", "sidecar/bin/mesh-sidecar.js", "--config", "/etc/mesh/sidecar.yaml"],
                env: [
                  { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
                  { name: "CONSUL_HTTP_ADDR", value: "$(HOST_IP):8500" },
                ],
                ports,
                readinessProbe: { httpGet: { path: "/readyz", port: "admin" }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/healthz", port: "admin" }, periodSeconds: 10, failureThreshold: 3 },
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
const text = header + documents.map((document) => stringify(document, { lineWidth: 0 })).join("---\n");
if (process.argv.includes("--check")) {
  const current = readFileSync(join(here, "shop.yaml"), "utf8");
  if (current !== text) {
    console.error("deploy/k8s/shop.yaml is out of date: run npx tsx deploy/k8s/generate.ts");
    process.exit(1);
  }
} else {
  writeFileSync(join(here, "shop.yaml"), text);
}
