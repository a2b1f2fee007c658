import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP } from "node:net";
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

/** Keys whose values are credentials: the Consul ACL token, and any password, secret or private key. */
const SECRET_KEY = /token|secret|password|passphrase|credential|private_?key|^key$|keypem/i;
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * A copy of a value fit to show: every credential (by its key, or a PEM private key wherever it is) replaced by
 * "redacted". /config is read by people and tools that should not learn the ACL token that registers services.
 */
export function redactSecrets(value: unknown, key = ""): unknown {
  if (value === undefined || value === null) return value;
  if (SECRET_KEY.test(key) && (typeof value !== "object" || Array.isArray(value))) return "redacted";
  if (typeof value === "string") return PRIVATE_KEY_PEM.test(value) ? "redacted" : value;
  if (Array.isArray(value)) return value.map((each) => redactSecrets(each));
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([name, each]) => [name, redactSecrets(each, name)]));
  }
  return value;
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || LOOPBACK_V4.test(host);
}

/**
 * Why the admin listener refuses a request's Host, or undefined when it takes it. A browser page on a domain the
 * attacker points at 127.0.0.1 (DNS rebinding) sends that domain as Host, so only loopback names and addresses
 * are taken, or the very address the listener was reached at (an admin listener bound beyond loopback, read by
 * its IP); with a port, it must be the listener's. Clients without Host (HTTP/1.0 tools) are not browsers.
 */
export function foreignHost(request: IncomingMessage): string | undefined {
  const header = request.headers.host;
  if (header === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${header}`);
  } catch {
    return `Host ${JSON.stringify(header)} is not a host`;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const local = (request.socket.localAddress ?? "").replace(/^::ffff:/, "");
  const taken = isLoopback(host) || (isIP(host) !== 0 && host === local);
  const port = url.port === "" ? 80 : Number(url.port);
  if (taken && port === request.socket.localPort) return undefined;
  return (
    `Host ${JSON.stringify(header)} refused: the admin endpoints answer only requests addressed to loopback ` +
    `(127.0.0.1:${request.socket.localPort} or localhost:${request.socket.localPort}), which keeps web pages on other ` +
    "domains (DNS rebinding) out"
  );
}

const readyz = (readiness: AdminSources["readiness"]) => async (response: ServerResponse) => {
  const problem = await readiness();
  send(response, problem ? 503 : 200, "text/plain", `${problem ?? "ready"}\n`);
};

const healthz = (response: ServerResponse) => send(response, 200, "text/plain", "ok\n");

const prometheus = (metrics: MeshMetrics) => async (response: ServerResponse) =>
  send(response, 200, metrics.registry.contentType, await metrics.registry.metrics());

/** The loopback admin endpoints: /healthz, /readyz, /metrics, /clusters, /certs, /config. */
export function createAdminServer(sources: AdminSources): Server {
  return serve(
    {
      "/healthz": healthz,
      "/readyz": readyz(sources.readiness),
      "/metrics": prometheus(sources.metrics),
      "/clusters": (response) => json(response, sources.clusters()),
      "/certs": (response) => json(response, sources.certs()),
      "/config": (response) => json(response, redactSecrets(sources.config())),
    },
    true,
  );
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

/**
 * `checkHost`: the loopback admin listener refuses a foreign Host (403). The health listener
 * does not: Consul's checks, probes and Prometheus reach it by the app's name or address, and it shows nothing
 * secret.
 */
function serve(routes: Routes, checkHost = false): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://admin").pathname;
    const route = routes[path];
    const refused = checkHost ? foreignHost(request) : undefined;
    if (refused !== undefined) {
      send(response, 403, "text/plain", `${refused}\n`);
    } else if (request.method !== "GET" && request.method !== "HEAD") {
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
