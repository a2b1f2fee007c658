// The NATS part of deploy/k8s/shop.yaml: a three-node JetStream cluster, laid out as the official NATS Helm chart
// does. A StatefulSet gives each pod a stable name (nats-0, nats-1, nats-2) and a volume of its own; a headless
// Service gives each a DNS name (nats-0.nats) that the cluster's routes and the services' NATS_URL use; each node's
// server_name is its pod's name. The kit gives streams three replicas on a cluster of three, so any one node may fail.

const NATS_IMAGE = "nats:2.10";
export const NATS_NODES = 3;
const CLUSTER_NAME = "shop";
const part = { app: "nats", "app.kubernetes.io/part-of": "grpc-mesh" };
const nodeNames = Array.from({ length: NATS_NODES }, (_, index) => `nats-${index}.nats`);

/** What the services are given as NATS_URL: every node; the client connects to one and fails over to the others. */
export const NATS_URL = nodeNames.map((node) => `nats://${node}:4222`).join(",");

/** Each node's config; $SERVER_NAME comes from the pod's name (NATS config reads environment variables). */
const natsConfig = `server_name: $SERVER_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
jetstream {
  store_dir: /data
}
cluster {
  name: ${CLUSTER_NAME}
  listen: 0.0.0.0:6222
  # A route to itself is skipped; every node lists all of them.
  routes: [
${nodeNames.map((node) => `    nats://${node}:6222`).join("\n")}
  ]
}
`;

/** /healthz with JetStream: a node is ready once it has caught up with the cluster's meta and stream state. */
const health = (path: string) => ({ httpGet: { path, port: "monitor" } });

export const natsDocuments: unknown[] = [
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "nats-config", labels: part },
    data: { "nats.conf": natsConfig },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nats", labels: part },
    spec: {
      clusterIP: "None",
      // The nodes must find each other's routes before any is ready: readiness waits for the cluster.
      publishNotReadyAddresses: true,
      selector: { app: "nats" },
      ports: [
        { name: "client", port: 4222, targetPort: "client" },
        { name: "cluster", port: 6222, targetPort: "cluster" },
        { name: "monitor", port: 8222, targetPort: "monitor" },
      ],
    },
  },
  {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "nats", labels: part },
    spec: {
      serviceName: "nats",
      replicas: NATS_NODES,
      // All nodes start at once: JetStream needs a quorum of them to elect its meta leader.
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: "nats" } },
      template: {
        metadata: { labels: part },
        spec: {
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: "nats",
              image: NATS_IMAGE,
              args: ["--config", "/etc/nats/nats.conf"],
              env: [{ name: "SERVER_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
              ports: [
                { name: "client", containerPort: 4222 },
                { name: "cluster", containerPort: 6222 },
                { name: "monitor", containerPort: 8222 },
              ],
              startupProbe: { ...health("/healthz"), periodSeconds: 10, failureThreshold: 90 },
              readinessProbe: { ...health("/healthz?js-server-only=true"), periodSeconds: 10 },
              livenessProbe: { ...health("/healthz?js-enabled-only=true"), periodSeconds: 30 },
              volumeMounts: [
                { name: "config", mountPath: "/etc/nats", readOnly: true },
                { name: "data", mountPath: "/data" },
              ],
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "1Gi" } },
            },
          ],
          volumes: [{ name: "config", configMap: { name: "nats-config" } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
        },
      ],
    },
  },
];
