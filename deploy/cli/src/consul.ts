/** An instance of a mesh service, as the CLI reads it from Consul. */
export interface Instance {
  service: string;
  id: string;
  address: string;
  port: number;
  status: string;
  grpcServices: string[];
  adminPort: number | undefined;
  /** Its inbound listener takes only mutual TLS with a mesh identity. */
  meshTls: boolean;
}

interface HealthEntry {
  Node: { Address: string };
  Service: { ID: string; Service: string; Address: string; Port: number; Meta: Record<string, string> | null };
  Checks: { Status: string; ServiceID: string }[];
}

export function consulUrl(): string {
  const address = process.env.CONSUL_HTTP_ADDR || "127.0.0.1:8500";
  return /^https?:\/\//.test(address) ? address : `http://${address}`;
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

/** Every instance of every service (the `consul` service itself left out), with its aggregated check status. */
export async function listInstances(): Promise<Instance[]> {
  const services = Object.keys(await consulGet<Record<string, string[]>>("/v1/catalog/services")).filter(
    (name) => name !== "consul",
  );
  const instances: Instance[] = [];
  for (const service of services.sort()) {
    for (const entry of await consulGet<HealthEntry[]>(`/v1/health/service/${encodeURIComponent(service)}`)) {
      const statuses = entry.Checks.map((check) => check.Status);
      const status = ["critical", "warning"].find((s) => statuses.includes(s)) ?? "passing";
      const meta = entry.Service.Meta ?? {};
      instances.push({
        service,
        id: entry.Service.ID,
        address: entry.Service.Address || entry.Node.Address,
        port: entry.Service.Port,
        status,
        grpcServices: (meta["grpc-services"] ?? "").split(",").filter(Boolean),
        adminPort: meta["admin-port"] ? Number(meta["admin-port"]) : undefined,
        meshTls: meta["mesh-tls"] === "mutual",
      });
    }
  }
  return instances;
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
