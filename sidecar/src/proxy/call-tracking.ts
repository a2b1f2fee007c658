import type { Logger } from "pino";
import type { RouteStats } from "../admin/route-stats.ts";
import type { InFlight } from "./in-flight.ts";

export interface TrackingDeps {
  inFlight: InFlight;
  log: Logger;
}

/** Runs one proxied call, counting it in flight (for drains) and recording its status and latency on its route. */
export function trackCall(deps: TrackingDeps, route: RouteStats, path: string, call: Promise<number>): void {
  const started = performance.now();
  deps.inFlight.enter();
  route.started();
  call.then(
    (code) => {
      route.finished(code, (performance.now() - started) / 1000);
      deps.inFlight.leave();
    },
    (error: unknown) => {
      deps.log.error({ err: error, path }, "call failed unexpectedly");
      deps.inFlight.leave();
    },
  );
}
