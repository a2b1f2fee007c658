import { setTimeout as sleep } from "node:timers/promises";
import { aggregate } from "./golden-metrics.ts";
import { metricsInstances, readAll } from "./sidecar-metrics.ts";
import { formatTop, render, topLines } from "./top-view.ts";
import { rowOf, type StatView } from "./views.ts";

export interface TopOptions {
  view: StatView;
  intervalSeconds: number;
  /** Frames to draw before returning; undefined: until `signal` aborts. */
  iterations: number | undefined;
  out: NodeJS.WriteStream;
  /** Ctrl-C: stops between frames, leaving the last one on screen. */
  signal: AbortSignal;
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/**
 * `mesh top`: `mesh stat` redrawn every interval, rows sorted busiest first. Each frame is the difference of two
 * readings one interval apart; the sidecars are listed from Consul afresh each time, so instances that come or go
 * show up (a new one counts from zero, a gone one is left out).
 */
export async function top(options: TopOptions): Promise<void> {
  const { out, signal } = options;
  const tty = out.isTTY === true;
  if (tty)
    out.write(`${HIDE_CURSOR}${render(`mesh top: reading the sidecars every ${options.intervalSeconds} s ...`, tty)}`);
  try {
    let previous = await readAll(await metricsInstances());
    for (let frame = 0; options.iterations === undefined || frame < options.iterations; frame++) {
      try {
        await sleep(options.intervalSeconds * 1000, undefined, { signal });
      } catch {
        return; // aborted: Ctrl-C
      }
      const instances = await metricsInstances();
      const current = await readAll(instances);
      const seconds = (current.at - previous.at) / 1000;
      const { rows, unreachable } = aggregate(instances, previous.routes, current.routes, (instance, route) =>
        rowOf(options.view, instance.service, route),
      );
      const text = formatTop({
        view: options.view,
        lines: topLines(rows, seconds),
        seconds,
        at: new Date(),
        sidecars: instances.length,
        unreachable,
        // The status line, a blank line, the header and a note line take four of the terminal's rows.
        maxRows: tty && out.rows ? out.rows - 5 : undefined,
      });
      out.write(render(text, tty));
      previous = current;
    }
  } finally {
    if (tty) out.write(SHOW_CURSOR);
  }
}
