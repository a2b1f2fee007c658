import { consulBaseUrl } from "@mesh/sidecar";

/** An instance's checks added up: the worst of them. */
export type Health = "passing" | "warning" | "critical";

/** An instance of a mesh service, as the CLI and the dashboard read it from Consul. */
export interface Instance {
  service: string;
  id: string;
  address: string;
  port: number;
  status: Health;
  grpcServices: string[];
  /** The sidecar's admin listener (Meta `admin-port`); undefined for a registration that is not a sidecar's. */
  adminPort: number | undefined;
  /** Its inbound listener takes only mutual TLS with a mesh identity. */
  meshTls: boolean;
}

interface HealthEntry {
  Node: { Address: string };
  Service: { ID: string; Service: string; Address: string; Port: number; Meta: Record<string, string> | null };
  Checks: { Status: string }[];
}

export function consulUrl(): string {
  return consulBaseUrl(process.env.CONSUL_HTTP_ADDR || "127.0.0.1:8500");
}

/** A request to the Consul agent's HTTP API (with CONSUL_HTTP_TOKEN); an error names the agent or its answer. */
export async function consulFetch(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${consulUrl()}${path}`, {
      method: init.method,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      headers: process.env.CONSUL_HTTP_TOKEN ? { "X-Consul-Token": process.env.CONSUL_HTTP_TOKEN } : {},
    });
  } catch (error) {
    throw new Error(
      `cannot reach Consul at ${consulUrl()} (set CONSUL_HTTP_ADDR): ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  if (!response.ok) {
    throw new Error(`Consul answered ${response.status} for ${init.method ?? "GET"} ${path}: ${await response.text()}`);
  }
  return response;
}

/** GETs a path of the Consul agent's HTTP API and parses the JSON answer. */
export async function consulGet<T>(path: string): Promise<T> {
  return (await (await consulFetch(path)).json()) as T;
}

/** A health entry as an instance: its checks added up, and what its sidecar put in the registration's Meta. */
function instanceOf(entry: HealthEntry): Instance {
  const statuses = entry.Checks.map((check) => check.Status);
  const meta = entry.Service.Meta ?? {};
  const adminPort = Number(meta["admin-port"]);
  return {
    service: entry.Service.Service,
    id: entry.Service.ID,
    address: entry.Service.Address || entry.Node.Address,
    port: entry.Service.Port,
    status: statuses.includes("critical") ? "critical" : statuses.includes("warning") ? "warning" : "passing",
    grpcServices: (meta["grpc-services"] ?? "").split(",").filter(Boolean),
    adminPort: Number.isInteger(adminPort) && adminPort > 0 ? adminPort : undefined,
    meshTls: meta["mesh-tls"] === "mutual",
  };
}

/**
 * Every instance of every service (the `consul` service itself left out), sorted by service, read with `get` (the
 * CLI's, which names the agent in its errors, or the dashboard's, with its own token and timeout).
 */
export async function listInstances(get: <T>(path: string) => Promise<T> = consulGet): Promise<Instance[]> {
  const services = Object.keys(await get<Record<string, string[]>>("/v1/catalog/services"))
    .filter((name) => name !== "consul")
    .sort();
  const entries = await Promise.all(
    services.map((service) => get<HealthEntry[]>(`/v1/health/service/${encodeURIComponent(service)}`)),
  );
  return entries.flat().map(instanceOf);
}

/** A passing instance serving a protobuf service (from the registrations' Meta), for calls and reflection. */
export async function instanceServing(protobufService: string): Promise<Instance> {
  const instances = await listInstances();
  const match = instances.find((each) => each.status === "passing" && each.grpcServices.includes(protobufService));
  if (!match) {
    const served = [...new Set(instances.flatMap((each) => each.grpcServices))].sort().join(", ") || "none";
    throw new Error(`no healthy instance serves ${protobufService}; served now: ${served}`);
  }
  return match;
}
