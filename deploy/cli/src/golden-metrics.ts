// Golden metrics (request rate, success rate, latency percentiles) from the sidecars' own Prometheus counters:
// `mesh_requests_total` by status and the `mesh_request_duration_seconds` histogram, read twice and differenced
// over the window between, as `linkerd viz stat` does over its window. Pure: the CLI fetches the texts.

/** One route of one sidecar: calls by gRPC status and the latency histogram's cumulative bucket counts. */
export interface RouteCounters {
  direction: string;
  upstream: string;
  method: string;
  byCode: Map<string, number>;
  /** Cumulative counts by upper bound (seconds; +Inf last). */
  buckets: Map<number, number>;
}

const SAMPLE = /^(mesh_requests_total|mesh_request_duration_seconds_bucket)\{([^}]*)\} (\S+)$/gm;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(LABEL)) labels[name as string] = value as string;
  return labels;
}

/** The per-route counters in one `/metrics` text, keyed by direction, upstream and method. */
export function parseRouteCounters(metrics: string): Map<string, RouteCounters> {
  const routes = new Map<string, RouteCounters>();
  for (const [, name, labelText, value] of metrics.matchAll(SAMPLE)) {
    const labels = labelsOf(labelText as string);
    const key = `${labels.direction}|${labels.upstream}|${labels.method}`;
    let route = routes.get(key);
    if (!route) {
      route = {
        direction: labels.direction ?? "",
        upstream: labels.upstream ?? "",
        method: labels.method ?? "",
        byCode: new Map(),
        buckets: new Map(),
      };
      routes.set(key, route);
    }
    if (name === "mesh_requests_total") route.byCode.set(labels.code ?? "", Number(value));
    else route.buckets.set(labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le), Number(value));
  }
  return routes;
}

/** What happened on a route (or a sum of routes) between two readings. */
export interface Window {
  calls: number;
  ok: number;
  /** Calls the caller abandoned (CANCELLED): a lost hedge, a client that went away; not the callee's failures. */
  cancelled: number;
  /** Cumulative bucket counts within the window, by upper bound. */
  buckets: Map<number, number>;
}

export function emptyWindow(): Window {
  return { calls: 0, ok: 0, cancelled: 0, buckets: new Map() };
}

/** Adds the difference `after - before` of one route to `into` (a route new since `before` counts from zero). */
export function addDifference(into: Window, after: RouteCounters, before: RouteCounters | undefined): void {
  for (const [code, count] of after.byCode) {
    const delta = count - (before?.byCode.get(code) ?? 0);
    into.calls += delta;
    if (code === "0") into.ok += delta;
    else if (code === "1") into.cancelled += delta;
  }
  for (const [bound, count] of after.buckets) {
    into.buckets.set(bound, (into.buckets.get(bound) ?? 0) + count - (before?.buckets.get(bound) ?? 0));
  }
}

/**
 * The q-quantile of a histogram window, interpolated linearly within its bucket as Prometheus's histogram_quantile
 * does; undefined without observations. A quantile in the +Inf bucket is the largest finite bound.
 */
export function quantile(q: number, buckets: Map<number, number>): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound) ?? 0;
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket > 0 ? lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / inBucket : bound;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** The golden signals of a window over `seconds`; success leaves out what callers cancelled themselves, as Linkerd does. */
export function golden(window: Window, seconds: number) {
  const judged = window.calls - window.cancelled;
  return {
    rps: window.calls / seconds,
    success: judged > 0 ? window.ok / judged : undefined,
    p50: quantile(0.5, window.buckets),
    p95: quantile(0.95, window.buckets),
    p99: quantile(0.99, window.buckets),
  };
}

/** The routes that add up to one row of a view (an edge, a method, a service), by its columns. */
export interface Row {
  columns: string[];
  window: Window;
}

type RoutesById = ReadonlyMap<string, ReadonlyMap<string, RouteCounters> | undefined>;

/**
 * Sums each instance's route differences between two readings into the rows `rowOf` puts them in (undefined: the
 * route is in no row of this view). An instance missing from `after` is unreachable; one missing from `before` (it
 * just appeared) counts from zero. Rows come out sorted by their columns.
 */
export function aggregate<I extends { id: string }>(
  instances: readonly I[],
  before: RoutesById,
  after: RoutesById,
  rowOf: (instance: I, route: RouteCounters) => string[] | undefined,
): { rows: Row[]; unreachable: string[] } {
  const rows = new Map<string, Row>();
  const unreachable: string[] = [];
  for (const instance of instances) {
    const now = after.get(instance.id);
    if (!now) {
      unreachable.push(instance.id);
      continue;
    }
    const then = before.get(instance.id);
    for (const [key, route] of now) {
      const columns = rowOf(instance, route);
      if (!columns) continue;
      const id = columns.join("|");
      let row = rows.get(id);
      if (!row) {
        row = { columns, window: emptyWindow() };
        rows.set(id, row);
      }
      addDifference(row.window, route, then?.get(key));
    }
  }
  const sorted = [...rows.values()].sort((a, b) => a.columns.join("|").localeCompare(b.columns.join("|")));
  return { rows: sorted, unreachable };
}
