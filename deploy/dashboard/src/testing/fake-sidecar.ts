// A stand-in for a sidecar's admin listener: /metrics in the sidecar's exposition format (per-route counters and the
// latency histogram) that grow on every scrape, and /clusters with breaker states.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRoute {
  direction: "inbound" | "outbound";
  upstream: string;
  method: string;
  /** Calls added per scrape, by gRPC status code. */
  perScrape: Record<string, number>;
  /** Seconds each call takes (all land in one bucket). */
  latency: number;
}

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function metricsText(routes: FakeRoute[], scrapes: number): string {
  const lines: string[] = [];
  for (const route of routes) {
    const labels = `direction="${route.direction}",upstream="${route.upstream}",method="${route.method}"`;
    let total = 0;
    for (const [code, count] of Object.entries(route.perScrape)) {
      lines.push(`mesh_requests_total{${labels},code="${code}"} ${count * scrapes}`);
      total += count * scrapes;
    }
    for (const bound of BOUNDS)
      lines.push(`mesh_request_duration_seconds_bucket{${labels},le="${bound}"} ${route.latency <= bound ? total : 0}`);
    lines.push(`mesh_request_duration_seconds_bucket{${labels},le="+Inf"} ${total}`);
  }
  return `# HELP mesh_requests_total Calls completed\n# TYPE mesh_requests_total counter\n${lines.join("\n")}\n`;
}

export async function startFakeSidecar(
  routes: FakeRoute[],
  clusters: Record<string, unknown>,
): Promise<{ port: number; server: Server }> {
  let scrapes = 0;
  const server = createServer((request, response) => {
    if (request.url === "/metrics") {
      scrapes++;
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      response.end(metricsText(routes, scrapes));
    } else if (request.url === "/clusters") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(clusters));
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, server };
}
