import type { Logger } from "pino";
import type { Direction, MeshMetrics } from "../admin/metrics.ts";
import type { GrpcRequest } from "./grpc-request.ts";
import type { InFlight } from "./in-flight.ts";

export interface TrackingDeps {
  metrics: MeshMetrics;
  inFlight: InFlight;
  log: Logger;
}

/** Runs one proxied call, counting it in flight (for drains) and recording its status and latency. */
export function trackCall(
  deps: TrackingDeps,
  direction: Direction,
  upstream: string,
  request: GrpcRequest,
  proxy: () => Promise<number>,
): void {
  const done = deps.inFlight.begin();
  const started = performance.now();
  deps.metrics.callStarted(direction);
  proxy().then(
    (code) => {
      deps.metrics.callFinished(direction, upstream, request.method, code, (performance.now() - started) / 1000);
      done();
    },
    (error: unknown) => {
      deps.log.error({ err: error, path: request.path, direction }, "call failed unexpectedly");
      done();
    },
  );
}
