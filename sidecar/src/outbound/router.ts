import type { UpstreamConfig } from "../config/schema.ts";

/**
 * Routing by contract: the protobuf service in the request path names the upstream that serves it. An
 * `:authority` naming an upstream (for example `inventory` or `inventory:15001`) overrides that.
 */
export class Router {
  private readonly byService = new Map<string, string>();

  constructor(private readonly upstreams: Readonly<Record<string, UpstreamConfig>>) {
    for (const [name, upstream] of Object.entries(upstreams)) {
      for (const service of upstream.services) this.byService.set(service, name);
    }
  }

  /** Declares, at run time, that an upstream serves a protobuf service (from discovery metadata). */
  addService(service: string, upstream: string): void {
    if (!this.byService.has(service)) this.byService.set(service, upstream);
  }

  route(service: string, authority: string | undefined): string | undefined {
    const host = authority?.replace(/:\d+$/, "");
    if (host && Object.hasOwn(this.upstreams, host)) return host;
    return this.byService.get(service);
  }
}
