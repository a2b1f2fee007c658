import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { ConsulClient, HealthEntry } from "./consul-client.ts";
import type { EndpointSource } from "./endpoint-source.ts";

export interface ConsulEndpointsOptions {
  waitMs: number;
  /** At most one request per this interval while the index does not move. */
  minIntervalMs: number;
  log: Logger;
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
 * stays in use while Consul cannot be reached; an index that goes backwards resets the watch (consul-api-subset §2).
 */
export class ConsulEndpoints implements EndpointSource {
  constructor(
    private readonly client: ConsulClient,
    private readonly options: ConsulEndpointsOptions,
  ) {}

  watch(upstream: string, onChange: (addresses: readonly string[]) => void): () => void {
    const stop = new AbortController();
    this.loop(upstream, onChange, stop.signal).catch((error: unknown) =>
      this.options.log.error({ err: error, upstream }, "discovery watch stopped unexpectedly"),
    );
    return () => stop.abort();
  }

  private async loop(upstream: string, onChange: (addresses: readonly string[]) => void, signal: AbortSignal) {
    const { log, waitMs, minIntervalMs } = this.options;
    let index = 0;
    let current: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const result = await this.client.passingInstances(upstream, index, waitMs, signal);
        if (failures > 0) log.info({ upstream }, "consul reachable again");
        failures = 0;
        index = result.index < index || result.index < 1 ? 0 : result.index;
        const addresses = [...new Set(result.entries.map(endpointAddress))].sort();
        const key = addresses.join(",");
        if (key !== current) {
          current = key;
          log.info({ upstream, endpoints: addresses }, "endpoints changed");
          onChange(addresses);
        }
        const services = result.entries
          .flatMap((entry) => (entry.Service.Meta?.["grpc-services"] ?? "").split(","))
          .filter(Boolean);
        if (services.length) this.options.onServices?.(upstream, [...new Set(services)]);
        const elapsed = Date.now() - started;
        if (elapsed < minIntervalMs) await sleep(minIntervalMs - elapsed, undefined, { signal });
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        this.options.onError?.(upstream);
        if (failures === 1) {
          log.warn({ upstream, err: (error as Error).message }, "consul unreachable; keeping the last known endpoints");
        }
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(failures, 6)), undefined, { signal }).catch(() => undefined);
      }
    }
  }
}
