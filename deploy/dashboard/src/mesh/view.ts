// The mesh view: per service and per edge (caller -> callee) request rate, success rate and latency percentiles over
// a sliding window of sidecar scrapes, as `mesh stat` computes them (the CLI's golden-metrics.ts) but from a history
// of readings instead of two. Edges are what callers saw (their sidecars' outbound routes); a service's row is what
// its own sidecars served (inbound routes). Pure: the scraper feeds readings in, the HTTP layer renders the result.
import { addDifference, emptyWindow, golden, type RouteCounters, type Window } from "@mesh/cli/golden-metrics";
import { type UpstreamState, worseBreaker } from "./clusters.ts";
import type { Health, Instance } from "./consul.ts";

/** One reading of one sidecar's /metrics. */
export interface Reading {
  at: number;
  routes: Map<string, RouteCounters>;
}

/** What the scraper knows about one instance. */
export interface InstanceState {
  instance: Instance;
  /** undefined: not scraped (no admin port). */
  reachable: boolean | undefined;
  error: string | undefined;
  upstreams: Record<string, UpstreamState>;
  lastScrapeAt: number | undefined;
}

export interface Golden {
  rps: number;
  /** 0..1, null without calls. */
  success: number | null;
  /** Milliseconds, null without calls. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  calls: number;
  errors: number;
  /** Failed calls between the last two readings. */
  recentErrors: number;
}

export interface ServiceView extends Golden {
  name: string;
  instances: number;
  healthy: number;
  /** Not registered in Consul: only seen as an upstream. */
  external: boolean;
}

export interface EdgeView extends Golden {
  from: string;
  to: string;
  /** The worst breaker state among the callers' sidecars for this upstream. */
  breaker: UpstreamState["breaker"] | null;
  failing: boolean;
}

export interface InstanceView {
  id: string;
  service: string;
  address: string;
  port: number;
  adminPort: number | null;
  health: Health;
  reachable: boolean | null;
  error: string | null;
  breakers: Record<string, UpstreamState["breaker"]>;
  ejectedEndpoints: number;
  lastScrapeAt: string | null;
}

export interface RatePoint {
  /** Milliseconds since the epoch. */
  t: number;
  rps: number;
  errorRps: number;
}

/** Readings per instance over the window (plus the one just before it, as the baseline), and the rate history. */
export class ScrapeHistory {
  private readonly readings = new Map<string, Reading[]>();
  readonly rate: RatePoint[] = [];

  constructor(
    readonly windowMs: number,
    private readonly maxRatePoints = 150,
  ) {}

  record(instanceId: string, reading: Reading): void {
    let list = this.readings.get(instanceId);
    if (!list) {
      list = [];
      this.readings.set(instanceId, list);
    }
    list.push(reading);
    // Keep the newest reading older than the window as its baseline; drop everything before it.
    const start = reading.at - this.windowMs;
    while (list.length > 2 && (list[1] as Reading).at <= start) list.shift();
  }

  /** Forgets instances no longer registered. */
  retain(instanceIds: Set<string>): void {
    for (const id of this.readings.keys()) if (!instanceIds.has(id)) this.readings.delete(id);
  }

  of(instanceId: string): readonly Reading[] {
    return this.readings.get(instanceId) ?? [];
  }

  /** Adds a point of the mesh-wide inbound request rate between each instance's last two readings. */
  addRatePoint(at: number): void {
    let rps = 0;
    let errorRps = 0;
    for (const list of this.readings.values()) {
      const last = list.at(-1);
      const previous = list.at(-2);
      if (!last || !previous || last.at < at - this.windowMs) continue;
      const seconds = (last.at - previous.at) / 1000;
      if (seconds <= 0) continue;
      for (const [key, route] of last.routes) {
        if (route.direction !== "inbound") continue;
        const window = difference(route, previous.routes.get(key));
        rps += window.calls / seconds;
        errorRps += (window.calls - window.ok - window.cancelled) / seconds;
      }
    }
    this.rate.push({ t: at, rps, errorRps });
    while (this.rate.length > this.maxRatePoints) this.rate.shift();
  }
}

/** `after - before` of one route; a route whose counters went down (a restarted sidecar) counts from zero. */
export function difference(after: RouteCounters, before: RouteCounters | undefined): Window {
  const reset =
    before !== undefined && [...after.byCode].some(([code, count]) => count < (before.byCode.get(code) ?? 0));
  const window = emptyWindow();
  addDifference(window, after, reset ? undefined : before);
  return window;
}

interface Row {
  window: Window;
  rps: number;
  recentErrors: number;
}

function mergeInto(row: Row, window: Window, seconds: number): void {
  row.window.calls += window.calls;
  row.window.ok += window.ok;
  row.window.cancelled += window.cancelled;
  for (const [bound, count] of window.buckets) {
    row.window.buckets.set(bound, (row.window.buckets.get(bound) ?? 0) + count);
  }
  row.rps += window.calls / seconds;
}

const toMs = (seconds: number | undefined) => (seconds === undefined ? null : seconds * 1000);

function goldenOf(row: Row | undefined): Golden {
  if (!row) return { rps: 0, success: null, p50: null, p95: null, p99: null, calls: 0, errors: 0, recentErrors: 0 };
  const signals = golden(row.window, 1);
  return {
    rps: row.rps,
    success: signals.success ?? null,
    p50: toMs(signals.p50),
    p95: toMs(signals.p95),
    p99: toMs(signals.p99),
    calls: row.window.calls,
    errors: row.window.calls - row.window.ok - row.window.cancelled,
    recentErrors: row.recentErrors,
  };
}

export interface MeshView {
  services: ServiceView[];
  edges: EdgeView[];
  instances: InstanceView[];
}

/** Services, edges and instances from the instances' states and their readings over the window. */
export function meshView(states: readonly InstanceState[], history: ScrapeHistory): MeshView {
  const serviceRows = new Map<string, Row>();
  const edgeRows = new Map<string, Row & { from: string; to: string }>();
  const breakers = new Map<string, UpstreamState["breaker"]>();
  const rowFor = <R extends Row>(rows: Map<string, R>, key: string, extra: Omit<R, keyof Row>): R => {
    let row = rows.get(key);
    if (!row) {
      row = { window: emptyWindow(), rps: 0, recentErrors: 0, ...extra } as R;
      rows.set(key, row);
    }
    return row;
  };

  for (const state of states) {
    const { service } = state.instance;
    for (const [upstream, cluster] of Object.entries(state.upstreams)) {
      const key = `${service}|${upstream}`;
      breakers.set(key, worseBreaker(breakers.get(key), cluster.breaker));
    }
    const readings = history.of(state.instance.id);
    const first = readings[0];
    const last = readings.at(-1);
    const previous = readings.at(-2);
    if (!first || !last || last === first) continue;
    const seconds = (last.at - first.at) / 1000;
    for (const [key, route] of last.routes) {
      const row =
        route.direction === "inbound"
          ? rowFor(serviceRows, service, {})
          : route.direction === "outbound"
            ? rowFor(edgeRows, `${service}|${route.upstream}`, { from: service, to: route.upstream })
            : undefined;
      if (!row) continue;
      mergeInto(row, difference(route, first.routes.get(key)), seconds);
      if (previous) {
        const recent = difference(route, previous.routes.get(key));
        row.recentErrors += recent.calls - recent.ok - recent.cancelled;
      }
    }
  }

  const edges: EdgeView[] = [];
  const edgeKeys = new Set([...edgeRows.keys(), ...breakers.keys()]);
  for (const key of [...edgeKeys].sort()) {
    const [from, to] = key.split("|") as [string, string];
    const signals = goldenOf(edgeRows.get(key));
    const breaker = breakers.get(key) ?? null;
    // An upstream the caller knows but never called (no route, closed breaker) is not an edge worth drawing.
    if (!edgeRows.has(key) && (breaker === null || breaker === "closed" || breaker === "unknown")) continue;
    const failing = (signals.success !== null && signals.success < 1) || signals.recentErrors > 0 || breaker === "open";
    edges.push({ from, to, ...signals, breaker, failing });
  }

  const registered = new Map<string, InstanceState[]>();
  for (const state of states) {
    const list = registered.get(state.instance.service) ?? [];
    list.push(state);
    registered.set(state.instance.service, list);
  }
  const names = new Set([...registered.keys(), ...edges.flatMap((edge) => [edge.from, edge.to])]);
  const services: ServiceView[] = [...names].sort().map((name) => {
    const list = registered.get(name) ?? [];
    return {
      name,
      instances: list.length,
      healthy: list.filter((state) => state.instance.status === "passing").length,
      external: list.length === 0,
      ...goldenOf(serviceRows.get(name)),
    };
  });

  const instances: InstanceView[] = states.map((state) => ({
    id: state.instance.id,
    service: state.instance.service,
    address: state.instance.address,
    port: state.instance.port,
    adminPort: state.instance.adminPort ?? null,
    health: state.instance.status,
    reachable: state.reachable ?? null,
    error: state.error ?? null,
    breakers: Object.fromEntries(Object.entries(state.upstreams).map(([name, cluster]) => [name, cluster.breaker])),
    ejectedEndpoints: Object.values(state.upstreams).reduce((sum, cluster) => sum + cluster.ejected, 0),
    lastScrapeAt: state.lastScrapeAt === undefined ? null : new Date(state.lastScrapeAt).toISOString(),
  }));
  return { services, edges, instances };
}
