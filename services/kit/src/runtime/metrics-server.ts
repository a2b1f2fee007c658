import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServer {
  /** `host:port` it listens on (the port chosen when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

/** Splits `host:port` (METRICS_LISTEN's form). */
function hostAndPort(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(":");
  const port = Number(listen.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`cannot serve metrics on ${JSON.stringify(listen)}: expected host:port`);
  return { host: listen.slice(0, colon), port };
}

function listen(server: Server, host: string, port: number, listenAddress: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "the address is taken (another process listens there)" : error.message;
      reject(new Error(`cannot serve metrics on ${listenAddress} (METRICS_LISTEN): ${why}`));
    });
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

/** Serves a registry in the Prometheus text format at GET /metrics on `host:port`. */
export async function serveMetrics(registry: Registry, listenAddress: string): Promise<MetricsServer> {
  const { host, port } = hostAndPort(listenAddress);
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end("not found: GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(`${(error as Error).message}\n`),
    );
  });
  const bound = await listen(server, host, port, listenAddress);
  return {
    address: `${host}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
