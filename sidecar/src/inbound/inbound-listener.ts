import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { IntentionWatch } from "../authorization/intention-watch.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream } from "../h2/proto/index.ts";
import { runAttempt } from "../proxy/attempt.ts";
import { trackCall } from "../proxy/call-tracking.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import { DownstreamCall, trailersOnlyFrom } from "../proxy/downstream-call.ts";
import { type GrpcRequest, isProblem, readGrpcRequest, rejectRequest } from "../proxy/grpc-request.ts";
import { createH2Server, type H2Server, type SecureInbound } from "../proxy/h2-server.ts";
import { aimRequest, forwardedRequest, headerValue } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import { Bulkhead, BulkheadFullError } from "../resilience/bulkhead.ts";
import type { Peer } from "../tls/peer-check.ts";

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
  /** Mutual TLS and authorization: who may call which method of this service. */
  mesh?: { service: string; secure: SecureInbound; intentions: IntentionWatch };
}

const APP = "app";

/** The public listener: protects the local app with a concurrency limit and the caller's deadline, then forwards. */
export function createInboundListener(deps: InboundDeps): H2Server {
  const { inbound } = deps;
  const limit = new Bulkhead({ maxConcurrent: inbound.maxConcurrent, maxQueue: inbound.maxQueue });

  async function forward(call: DownstreamCall, request: GrpcRequest, headers: HeaderList): Promise<number> {
    const deadline = new Deadline(request.timeoutMs, inbound.timeoutMs);
    const stopDeadline = enforceDeadline(call, deadline, `the app at ${inbound.app}`);
    try {
      const result = await limit.run(
        () =>
          runAttempt({
            call,
            connection: deps.pool.get(inbound.app),
            headers: aimRequest(headers, inbound.app, formatGrpcTimeout(deadline.remainingMs())),
            target: `app (${inbound.app})`,
            attempts: 1,
            holdResponseBytes: 0,
          }),
        call,
      );
      if (result.committed || result.cancelled) return result.code;
      if (result.neverProcessed) call.refuse();
      else if (result.uncommittedResponse) call.respondTrailersOnly(trailersOnlyFrom(result.uncommittedResponse, 1));
      else call.fail(result.code, result.message);
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

  const routes = new Map<string, RouteStats>();
  const routeMetrics = (request: GrpcRequest) => {
    let route = routes.get(request.path);
    if (!route) {
      route = deps.metrics.route("inbound", APP, request.method);
      routes.set(request.path, route);
    }
    return route;
  };

  /** Why the caller may not make this call, or undefined when it may (or when authorization is off). */
  const denial = (request: GrpcRequest, headers: HeaderList, peer: Peer | undefined) => {
    const { mesh } = deps;
    if (!mesh) return undefined;
    const source = peer && "identity" in peer ? peer.identity.service : "an unidentified caller";
    const decision = mesh.intentions.authorize({
      source,
      path: request.path,
      method: "POST",
      header: (name) => headerValue(headers, name),
    });
    if (decision.allowed) return undefined;
    deps.metrics.authorizationDenied(source, mesh.service, request.path);
    deps.log.info({ source, destination: mesh.service, path: request.path, reason: decision.reason }, "call denied");
    return `${source} may not call ${request.path} on ${mesh.service}: ${decision.reason}`;
  };

  const onStream = (stream: H2Stream, headers: HeaderList, endStream: boolean, peer: Peer | undefined) => {
    const request = readGrpcRequest(headers, stream.headerListSize, deps.limits.maxHeaderListBytes);
    if (isProblem(request)) return rejectRequest(stream, request);
    const denied = denial(request, headers, peer);
    if (denied) return rejectRequest(stream, { httpStatus: 200, code: Status.PERMISSION_DENIED, message: denied });
    const call = new DownstreamCall(stream, deps.limits, endStream);
    if (deps.draining()) return call.refuse();
    const forwarded = forwardedRequest(headers, request.path, "http");
    trackCall(deps, routeMetrics(request), request.path, forward(call, request, forwarded));
  };

  return createH2Server({
    maxConcurrentStreams: deps.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    secure: deps.mesh?.secure,
    onStream,
  });
}
