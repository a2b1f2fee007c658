import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { runAttempt } from "../proxy/attempt.ts";
import { trackCall } from "../proxy/call-tracking.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import { DownstreamCall } from "../proxy/downstream-call.ts";
import { type GrpcRequest, isProblem, readGrpcRequest, rejectRequest } from "../proxy/grpc-request.ts";
import { Status } from "../proxy/grpc-status.ts";
import { formatGrpcTimeout } from "../proxy/grpc-timeout.ts";
import { createH2cServer, type H2cServer } from "../proxy/h2c-server.ts";
import { endToEndHeaders } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import { Bulkhead, BulkheadFullError } from "../resilience/bulkhead.ts";
import { Deadline } from "../resilience/deadline.ts";

export type InboundConfig = NonNullable<SidecarConfig["inbound"]>;

export interface InboundDeps {
  inbound: InboundConfig;
  limits: SidecarConfig["limits"];
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  log: Logger;
  /** True once the sidecar drains: new calls are refused so callers go to another instance. */
  draining: () => boolean;
}

const NOT_FORWARDED = new Set(["grpc-timeout"]);
const APP = "app";

/** The public listener: protects the local app with a concurrency limit and the caller's deadline, then forwards. */
export function createInboundListener(deps: InboundDeps): H2cServer {
  const { inbound } = deps;
  const limit = new Bulkhead({ maxConcurrent: inbound.maxConcurrent, maxQueue: inbound.maxQueue });

  async function forward(call: DownstreamCall, request: GrpcRequest, headers: IncomingHttpHeaders): Promise<number> {
    const deadline = new Deadline(request.timeoutMs, inbound.timeoutMs);
    const stopDeadline = enforceDeadline(call, deadline, `the app at ${inbound.app}`);
    try {
      const result = await limit.run(
        () =>
          runAttempt({
            call,
            session: deps.pool.get(inbound.app),
            headers: {
              ...endToEndHeaders(headers, NOT_FORWARDED),
              ":method": "POST",
              ":scheme": "http",
              ":authority": inbound.app,
              ":path": request.path,
              "grpc-timeout": formatGrpcTimeout(deadline.remainingMs()),
            },
            signal: call.signal,
            target: `app (${inbound.app})`,
            commitHeaders: (response) => response,
          }),
        call.signal,
      );
      if (result.committed || result.cancelled) return result.code;
      if (result.neverProcessed) call.refuse();
      else if (result.uncommittedResponse) {
        call.respondTrailersOnly({ "content-type": "application/grpc", ...result.uncommittedResponse });
      } else call.fail(result.code, result.message);
      return result.code;
    } catch (error) {
      if (!(error instanceof BulkheadFullError)) return Status.DEADLINE_EXCEEDED;
      deps.metrics.bulkheadRejected("inbound", APP);
      const message = `the app is at its concurrency limit (${inbound.maxConcurrent} in flight and ${inbound.maxQueue} queued)`;
      call.fail(Status.RESOURCE_EXHAUSTED, message);
      return Status.RESOURCE_EXHAUSTED;
    } finally {
      stopDeadline();
    }
  }

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const request = readGrpcRequest(headers, deps.limits.maxHeaderListBytes);
    if (isProblem(request)) return rejectRequest(stream, request);
    const call = new DownstreamCall(stream, deps.limits);
    if (deps.draining()) return call.refuse();
    trackCall(deps, "inbound", APP, request, () => forward(call, request, headers));
  };

  return createH2cServer({ maxConcurrentStreams: deps.limits.maxConcurrentStreams, idleTimeoutMs: 300_000, onStream });
}
