// Who is in the mesh, read from the Consul agent as the CLI reads it (@mesh/cli/consul), with the dashboard's own
// agent address, token and timeout: a Consul that hangs must not stall a scrape.
import { type Instance, listInstances } from "@mesh/cli/consul";

export type { Health, Instance } from "@mesh/cli/consul";

export interface ConsulClient {
  url: string;
  token?: string | undefined;
  timeoutMs: number;
}

/** GETs a path of the agent's HTTP API with the dashboard's token and timeout, and parses the JSON answer. */
export function consulGetter(client: ConsulClient): <T>(path: string) => Promise<T> {
  return async <T>(path: string) => {
    const response = await fetch(`${client.url}${path}`, {
      headers: client.token ? { "X-Consul-Token": client.token } : {},
      signal: AbortSignal.timeout(client.timeoutMs),
    });
    if (!response.ok) throw new Error(`Consul answered ${response.status} for ${path}`);
    return (await response.json()) as T;
  };
}

/** Every instance of every service in the catalog, sorted by service. */
export function discoverInstances(client: ConsulClient): Promise<Instance[]> {
  return listInstances(consulGetter(client));
}
