import type { Metric } from "prom-client";

// prom-client's label children validate and hash their labels on every inc() and observe(); a proxy updates these on
// every call, so each route keeps plain counters instead and prom-client reads them only when /metrics is scraped.

export type Direction = "inbound" | "outbound";

/**
 * The `method` label of every call whose path the descriptor sets do not describe: callers choose paths, so only the
 * contracts' methods get series (and cached routes) of their own, and anything else shares this one.
 */
export const UNKNOWN_METHOD = "unknown";

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One route's (direction, upstream, method) calls in flight, completions by gRPC status, and latency histogram. */
export class RouteStats {
  inFlight = 0;
  /** Completions by gRPC status code (sparse past the codes a status can have). */
  readonly byCode: number[] = [];
  /** Latency counts per bucket (not cumulative), the last for values above every bound. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(readonly labels: { direction: Direction; upstream: string; method: string }) {}

  started(): void {
    this.inFlight++;
  }

  finished(code: number, seconds: number): void {
    this.inFlight--;
    this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket++;
    this.buckets[bucket] = (this.buckets[bucket] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric whose samples are read from the routes at scrape time, in prom-client's exposition format. */
function scrapedMetric(name: string, help: string, type: "counter" | "histogram", samples: () => Sample[]): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, aggregator: "sum", values: samples() }),
    reset: () => {},
  };
  return metric as unknown as Metric;
}

/** `mesh_requests_total`: completed calls by direction, upstream, method and gRPC status. */
export function requestsMetric(routes: ReadonlyMap<string, RouteStats>): Metric {
  return scrapedMetric(
    "mesh_requests_total",
    "Calls completed, by direction, upstream, method and gRPC status",
    "counter",
    () => {
      const samples: Sample[] = [];
      for (const route of routes.values()) {
        route.byCode.forEach((value, code) => {
          samples.push({ labels: { ...route.labels, code: String(code) }, value });
        });
      }
      return samples;
    },
  );
}

/** `mesh_request_duration_seconds`: latency as the caller sees it, by direction, upstream and method. */
export function durationMetric(routes: ReadonlyMap<string, RouteStats>): Metric {
  const name = "mesh_request_duration_seconds";
  return scrapedMetric(name, "Call latency as the caller sees it, retries and backoff included", "histogram", () => {
    const samples: Sample[] = [];
    for (const route of routes.values()) {
      if (route.count === 0) continue;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, i) => {
        cumulative += route.buckets[i] as number;
        samples.push({ metricName: `${name}_bucket`, labels: { le: bound, ...route.labels }, value: cumulative });
      });
      samples.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", ...route.labels }, value: route.count });
      samples.push({ metricName: `${name}_sum`, labels: { ...route.labels }, value: route.sum });
      samples.push({ metricName: `${name}_count`, labels: { ...route.labels }, value: route.count });
    }
    return samples;
  });
}
