import { setTimeout as sleep } from "node:timers/promises";
import { aggregate, golden } from "./golden-metrics.ts";
import { metricsInstances, readAll } from "./sidecar-metrics.ts";
import { table } from "./table.ts";
import { COLUMNS, ms, percent, rowOf, type StatView } from "./views.ts";

/**
 * `mesh stat`: request rate, success rate and p50/p95/p99 latency per edge (caller -> callee), per method of each
 * edge, or per service, over a window: every sidecar's metrics are read at its start and its end.
 */
export async function stat(view: StatView, windowSeconds: number): Promise<string> {
  const instances = await metricsInstances();
  const before = await readAll(instances);
  await sleep(windowSeconds * 1000);
  const after = await readAll(instances);
  const seconds = (after.at - before.at) / 1000;

  const { rows, unreachable } = aggregate(instances, before.routes, after.routes, (instance, route) =>
    rowOf(view, instance.service, route),
  );
  const lines = rows.map(({ columns, window }) => {
    const signals = golden(window, seconds);
    return [
      ...columns,
      signals.rps.toFixed(1),
      percent(signals.success),
      ms(signals.p50),
      ms(signals.p95),
      ms(signals.p99),
    ];
  });
  const header = [...COLUMNS[view], "rps", "success", "p50", "p95", "p99"];
  const note = unreachable.length ? `\nunreachable (metrics not read): ${unreachable.join(", ")}` : "";
  return `${lines.length ? table(header, lines) : "no calls seen"}${note}\n(over the last ${seconds.toFixed(1)} s)`;
}
