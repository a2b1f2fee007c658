import { type ConsulWatchOptions, watchBlocking } from "./blocking-watch.ts";
import type { ConsulClient, HealthEntry } from "./consul-client.ts";
import type { EndpointSource } from "./endpoint-source.ts";

export interface ConsulEndpointsOptions extends ConsulWatchOptions {
  /** Told the protobuf services each upstream advertises (Meta grpc-services), for routing by contract. */
  onServices?: (upstream: string, services: readonly string[]) => void;
  /** Told of each failed watch request. */
  onError?: (upstream: string) => void;
}

/** The address callers use: the service's own, or the node's when the service registered none. */
export function endpointAddress(entry: HealthEntry): string {
  return `${entry.Service.Address || entry.Node.Address}:${entry.Service.Port}`;
}

/**
 * Endpoints from Consul: one blocking watch per upstream on /v1/health/service/<name>?passing. The last good set
 * stays in use while Consul cannot be reached.
 */
export class ConsulEndpoints implements EndpointSource {
  constructor(
    private readonly client: ConsulClient,
    private readonly options: ConsulEndpointsOptions,
  ) {}

  watch(upstream: string, onChange: (addresses: readonly string[]) => void): () => void {
    const { log, waitMs, minIntervalMs } = this.options;
    let current: string | undefined;
    return watchBlocking(
      (index, signal) => this.client.passingInstances(upstream, index, waitMs, signal),
      (entries) => {
        const addresses = [...new Set(entries.map(endpointAddress))].sort();
        const key = addresses.join(",");
        if (key !== current) {
          current = key;
          log.info({ upstream, endpoints: addresses }, "endpoints changed");
          onChange(addresses);
        }
        const services = entries
          .flatMap((entry) => (entry.Service.Meta?.["grpc-services"] ?? "").split(","))
          .filter(Boolean);
        if (services.length) this.options.onServices?.(upstream, [...new Set(services)]);
      },
      { what: `upstream ${upstream}`, minIntervalMs, log, onError: () => this.options.onError?.(upstream) },
    );
  }
}
