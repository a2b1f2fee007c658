import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { MeshMetrics } from "./metrics.ts";

export interface AdminSources {
  metrics: MeshMetrics;
  /** undefined when ready, else why not. */
  readiness: () => Promise<string | undefined>;
  clusters: () => unknown;
  /** The mesh identity in use: leaf, roots, and the intentions in force. */
  certs: () => unknown;
  config: () => unknown;
}

function send(response: ServerResponse, status: number, contentType: string, body: string) {
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  response.end(body);
}

const json = (response: ServerResponse, value: unknown) =>
  send(response, 200, "application/json", `${JSON.stringify(value, null, 2)}\n`);

type Routes = Record<string, (response: ServerResponse) => Promise<void> | void>;

const readyz = (readiness: AdminSources["readiness"]) => async (response: ServerResponse) => {
  const problem = await readiness();
  send(response, problem ? 503 : 200, "text/plain", `${problem ?? "ready"}\n`);
};

const healthz = (response: ServerResponse) => send(response, 200, "text/plain", "ok\n");

const prometheus = (metrics: MeshMetrics) => async (response: ServerResponse) =>
  send(response, 200, metrics.registry.contentType, await metrics.registry.metrics());

/** The loopback admin endpoints: /healthz, /readyz, /metrics, /clusters, /certs, /config. */
export function createAdminServer(sources: AdminSources): Server {
  return serve({
    "/healthz": healthz,
    "/readyz": readyz(sources.readiness),
    "/metrics": prometheus(sources.metrics),
    "/clusters": (response) => json(response, sources.clusters()),
    "/certs": (response) => json(response, sources.certs()),
    "/config": (response) => json(response, sources.config()),
  });
}

/**
 * What health checkers and metrics scrapers need, on a plaintext listener of their own: the inbound port takes only
 * mutual TLS, and the admin listener stays on loopback, so this is what Consul's Envoy integration calls exposed
 * paths (Consul's check, Kubernetes probes) and what Linkerd's proxy serves on its admin port 4191. /readyz asks the
 * app through the sidecar; /healthz says the sidecar runs; /metrics is for Prometheus. Nothing else: /clusters,
 * /certs and /config stay on loopback.
 */
export function createHealthServer(readiness: AdminSources["readiness"], metrics: MeshMetrics): Server {
  return serve({ "/healthz": healthz, "/readyz": readyz(readiness), "/metrics": prometheus(metrics) });
}

function serve(routes: Routes): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://admin").pathname;
    const route = routes[path];
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "text/plain", "only GET\n");
    } else if (!route) {
      send(response, 404, "text/plain", `no such endpoint; try ${Object.keys(routes).join(" ")}\n`);
    } else {
      Promise.resolve(route(response)).catch((error: unknown) =>
        send(response, 500, "text/plain", `${(error as Error).message}\n`),
      );
    }
  });
}
