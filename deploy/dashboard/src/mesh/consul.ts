// Who is in the mesh, from the Consul agent's HTTP API, as the CLI reads it (deploy/cli/src/consul.ts): every
// service in the catalog (but Consul itself), each instance with its aggregated check status and, from the
// registration's Meta, the admin port of the sidecar that registered it.

export type Health = "passing" | "warning" | "critical";

export interface MeshInstance {
  id: string;
  service: string;
  address: string;
  port: number;
  health: Health;
  /** The sidecar's admin listener (Meta `admin-port`); undefined for a registration that is not a sidecar's. */
  adminPort: number | undefined;
}

interface HealthEntry {
  Node: { Address: string };
  Service: { ID: string; Service: string; Address: string; Port: number; Meta: Record<string, string> | null };
  Checks: { Status: string }[];
}

/** `CONSUL_HTTP_ADDR` as the Consul CLI takes it (host:port or a URL). */
export function consulBaseUrl(address: string): string {
  return (/^https?:\/\//.test(address) ? address : `http://${address}`).replace(/\/+$/, "");
}

/** The status a set of checks adds up to: the worst of them. */
export function aggregateHealth(statuses: string[]): Health {
  if (statuses.includes("critical")) return "critical";
  if (statuses.includes("warning")) return "warning";
  return "passing";
}

export function instanceOf(entry: HealthEntry): MeshInstance {
  const meta = entry.Service.Meta ?? {};
  const adminPort = Number(meta["admin-port"]);
  return {
    id: entry.Service.ID,
    service: entry.Service.Service,
    address: entry.Service.Address || entry.Node.Address,
    port: entry.Service.Port,
    health: aggregateHealth(entry.Checks.map((check) => check.Status)),
    adminPort: Number.isInteger(adminPort) && adminPort > 0 ? adminPort : undefined,
  };
}

export interface ConsulClient {
  url: string;
  token?: string | undefined;
  timeoutMs: number;
}

async function get<T>(client: ConsulClient, path: string): Promise<T> {
  const response = await fetch(`${client.url}${path}`, {
    headers: client.token ? { "X-Consul-Token": client.token } : {},
    signal: AbortSignal.timeout(client.timeoutMs),
  });
  if (!response.ok) throw new Error(`Consul answered ${response.status} for ${path}`);
  return (await response.json()) as T;
}

/** Every instance of every service in the catalog, sorted by service and id. */
export async function discoverInstances(client: ConsulClient): Promise<MeshInstance[]> {
  const services = Object.keys(await get<Record<string, string[]>>(client, "/v1/catalog/services"))
    .filter((name) => name !== "consul")
    .sort();
  const entries = await Promise.all(
    services.map((service) => get<HealthEntry[]>(client, `/v1/health/service/${encodeURIComponent(service)}`)),
  );
  return entries.flat().map(instanceOf);
}
