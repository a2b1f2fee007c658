import { setTimeout as sleep } from "node:timers/promises";
import { type Instance, listInstances } from "./consul.ts";
import {
  addDifference,
  emptyWindow,
  golden,
  parseRouteCounters,
  type RouteCounters,
  type Window,
} from "./golden-metrics.ts";
import { table } from "./table.ts";

export type StatView = "edge" | "method" | "service";

const COLUMNS: Record<StatView, string[]> = {
  edge: ["from", "to"],
  method: ["from", "to", "method"],
  service: ["service"],
};

/**
 * Which row of a view a route counts in, or undefined when it does not: edges and methods are what callers saw
 * (their sidecars' outbound routes), a service's row is what its own sidecars served (their inbound routes).
 */
function rowOf(view: StatView, instance: Instance, route: RouteCounters): string[] | undefined {
  if (view === "service") return route.direction === "inbound" ? [instance.service] : undefined;
  if (route.direction !== "outbound") return undefined;
  return view === "edge" ? [instance.service, route.upstream] : [instance.service, route.upstream, route.method];
}

async function readMetrics(instance: Instance): Promise<Map<string, RouteCounters> | undefined> {
  try {
    const response = await fetch(`http://${instance.address}:${instance.adminPort}/metrics`);
    return response.ok ? parseRouteCounters(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

const ms = (seconds: number | undefined) => (seconds === undefined ? "-" : `${(seconds * 1000).toFixed(2)}ms`);

/**
 * `mesh stat`: request rate, success rate and p50/p95/p99 latency per edge (caller -> callee), per method of each
 * edge, or per service, over a window: every sidecar's metrics are read at its start and its end.
 */
export async function stat(view: StatView, windowSeconds: number): Promise<string> {
  const instances = (await listInstances()).filter((instance) => instance.adminPort !== undefined);
  const before = await Promise.all(instances.map(readMetrics));
  const started = performance.now();
  await sleep(windowSeconds * 1000);
  const after = await Promise.all(instances.map(readMetrics));
  const seconds = (performance.now() - started) / 1000;

  const rows = new Map<string, { columns: string[]; window: Window }>();
  const unreachable: string[] = [];
  for (const [index, instance] of instances.entries()) {
    const now = after[index];
    if (!now) {
      unreachable.push(instance.id);
      continue;
    }
    for (const [key, route] of now) {
      const columns = rowOf(view, instance, route);
      if (!columns) continue;
      const id = columns.join("|");
      let row = rows.get(id);
      if (!row) {
        row = { columns, window: emptyWindow() };
        rows.set(id, row);
      }
      addDifference(row.window, route, before[index]?.get(key));
    }
  }
  const lines = [...rows.values()]
    .sort((a, b) => a.columns.join("|").localeCompare(b.columns.join("|")))
    .map(({ columns, window }) => {
      const signals = golden(window, seconds);
      const success = signals.success === undefined ? "-" : `${(signals.success * 100).toFixed(1)}%`;
      return [...columns, signals.rps.toFixed(1), success, ms(signals.p50), ms(signals.p95), ms(signals.p99)];
    });
  const header = [...COLUMNS[view], "rps", "success", "p50", "p95", "p99"];
  const note = unreachable.length ? `\nunreachable (metrics not read): ${unreachable.join(", ")}` : "";
  return `${lines.length ? table(header, lines) : "no calls seen"}${note}\n(over the last ${seconds.toFixed(1)} s)`;
}
