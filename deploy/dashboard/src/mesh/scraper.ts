// Every few seconds: who is in the mesh (Consul), then each sidecar's /metrics and /clusters on its admin port. A
// sidecar that does not answer is marked unreachable and keeps its place; Consul not answering keeps the last known
// instances. Nothing here throws into the HTTP layer.
import { parseRouteCounters } from "@mesh/cli/golden-metrics";
import { Poller, reason } from "../polling.ts";
import { parseClusters } from "./clusters.ts";
import { type ConsulClient, discoverInstances, type Instance } from "./consul.ts";
import { type InstanceState, type MeshView, meshView, type RatePoint, ScrapeHistory } from "./view.ts";

export interface ScraperOptions {
  consul: ConsulClient;
  intervalMs: number;
  windowMs: number;
  /** Per request to a sidecar. */
  timeoutMs: number;
}

export interface MeshSnapshot extends MeshView {
  /** Completed scrape rounds. */
  scrapes: number;
  scrapedAt: string | null;
  windowSeconds: number;
  intervalSeconds: number;
  consul: { address: string; error: string | null };
  rate: RatePoint[];
}

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status} from ${url}`);
  return text;
}

export class MeshScraper {
  private readonly history: ScrapeHistory;
  private states: InstanceState[] = [];
  private consulError: string | null = null;
  private scrapes = 0;
  private scrapedAt: number | undefined;
  private readonly poller: Poller;

  constructor(private readonly options: ScraperOptions) {
    this.history = new ScrapeHistory(options.windowMs);
    this.poller = new Poller(() => this.scrapeOnce(), options.intervalMs);
  }

  /** Scrapes now and then every interval until stop(). */
  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** One round: discovery, then every sidecar in parallel. */
  async scrapeOnce(): Promise<void> {
    let instances: Instance[];
    try {
      instances = await discoverInstances(this.options.consul);
      this.consulError = null;
    } catch (error) {
      this.consulError = `cannot read the catalog from Consul at ${this.options.consul.url}: ${reason(error)}`;
      instances = this.states.map((state) => state.instance);
    }
    const previous = new Map(this.states.map((state) => [state.instance.id, state]));
    this.states = await Promise.all(
      instances.map((instance) => this.scrapeInstance(instance, previous.get(instance.id))),
    );
    this.history.retain(new Set(instances.map((instance) => instance.id)));
    this.scrapedAt = Date.now();
    this.history.addRatePoint(this.scrapedAt);
    this.scrapes++;
  }

  private async scrapeInstance(instance: Instance, before: InstanceState | undefined): Promise<InstanceState> {
    if (instance.adminPort === undefined) {
      return {
        instance,
        reachable: undefined,
        error: "no admin-port in the registration's Meta",
        upstreams: {},
        lastScrapeAt: undefined,
      };
    }
    const base = `http://${instance.address.includes(":") ? `[${instance.address}]` : instance.address}:${instance.adminPort}`;
    const [metrics, clusters] = await Promise.allSettled([
      fetchText(`${base}/metrics`, this.options.timeoutMs),
      fetchText(`${base}/clusters`, this.options.timeoutMs).then((text) => JSON.parse(text) as unknown),
    ]);
    if (metrics.status === "rejected") {
      return {
        instance,
        reachable: false,
        error: `sidecar admin ${base} did not answer: ${reason(metrics.reason)}`,
        upstreams: before?.upstreams ?? {},
        lastScrapeAt: before?.lastScrapeAt,
      };
    }
    const at = Date.now();
    this.history.record(instance.id, { at, routes: parseRouteCounters(metrics.value) });
    return {
      instance,
      reachable: true,
      error: clusters.status === "rejected" ? `/clusters: ${reason(clusters.reason)}` : undefined,
      upstreams: clusters.status === "fulfilled" ? parseClusters(clusters.value) : (before?.upstreams ?? {}),
      lastScrapeAt: at,
    };
  }

  snapshot(): MeshSnapshot {
    return {
      ...meshView(this.states, this.history),
      scrapes: this.scrapes,
      scrapedAt: this.scrapedAt === undefined ? null : new Date(this.scrapedAt).toISOString(),
      windowSeconds: this.options.windowMs / 1000,
      intervalSeconds: this.options.intervalMs / 1000,
      consul: { address: this.options.consul.url, error: this.consulError },
      rate: [...this.history.rate],
    };
  }
}
