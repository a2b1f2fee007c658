import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { MeshMetrics } from "./metrics.ts";

export interface AdminSources {
  metrics: MeshMetrics;
  /** undefined when ready, else why not. */
  readiness: () => Promise<string | undefined>;
  clusters: () => unknown;
  config: () => unknown;
}

function send(response: ServerResponse, status: number, contentType: string, body: string) {
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  response.end(body);
}

const json = (response: ServerResponse, value: unknown) =>
  send(response, 200, "application/json", `${JSON.stringify(value, null, 2)}\n`);

/** The loopback admin endpoints: /healthz, /readyz, /metrics, /clusters, /config. */
export function createAdminServer(sources: AdminSources): Server {
  const routes: Record<string, (response: ServerResponse) => Promise<void> | void> = {
    "/healthz": (response) => send(response, 200, "text/plain", "ok\n"),
    "/readyz": async (response) => {
      const problem = await sources.readiness();
      send(response, problem ? 503 : 200, "text/plain", `${problem ?? "ready"}\n`);
    },
    "/metrics": async (response) =>
      send(response, 200, sources.metrics.registry.contentType, await sources.metrics.registry.metrics()),
    "/clusters": (response) => json(response, sources.clusters()),
    "/config": (response) => json(response, sources.config()),
  };
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
