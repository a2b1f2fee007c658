import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { IntentionWatch } from "../authorization/intention-watch.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { Status } from "../grpc/status.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream } from "../h2/proto/index.ts";
import { DownstreamCall } from "../proxy/downstream-call.ts";
import { type GrpcRequest, isProblem, readGrpcRequest, rejectRequest } from "../proxy/grpc-request.ts";
import { createH2Server, type H2Server, type SecureInbound } from "../proxy/h2-server.ts";
import { forwardedRequest, headerValue } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import { AdaptiveConcurrency } from "../resilience/adaptive-concurrency.ts";
import { Bulkhead } from "../resilience/bulkhead.ts";
import type { Peer } from "../tls/peer-check.ts";
import type { CallTracer } from "../tracing/call-tracer.ts";
import { APP, applyAdaptiveLimit, InboundCall, type InboundCallDeps, type InboundConfig } from "./inbound-call.ts";

export interface InboundDeps {
  inbound: InboundConfig;
  limits: SidecarConfig["limits"];
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  log: Logger;
  /** True once the sidecar drains: new calls are refused so callers go to another instance. */
  draining: () => boolean;
  /** Spans for every call, when the sidecar traces. */
  tracer?: CallTracer;
  /** Mutual TLS and authorization: who may call which method of this service. */
  mesh?: { service: string; secure: SecureInbound; intentions: IntentionWatch };
}

/** The app's concurrency limit: adaptive under inbound.maxConcurrent, or that fixed number; published in metrics. */
function appLimit(inbound: InboundConfig, metrics: MeshMetrics): Pick<InboundCallDeps, "limit" | "adaptive"> {
  const limit = new Bulkhead({ maxConcurrent: inbound.maxConcurrent, maxQueue: inbound.maxQueue });
  const adaptive = inbound.adaptiveConcurrency.enabled
    ? new AdaptiveConcurrency(inbound.adaptiveConcurrency, inbound.maxConcurrent)
    : undefined;
  if (adaptive) applyAdaptiveLimit(limit, adaptive, inbound.maxQueue);
  metrics.watchInbound(() => ({
    limit: limit.limit,
    inFlight: limit.active,
    queued: limit.queued,
    baselineMs: adaptive?.baselineMs ?? null,
    recentMs: adaptive?.recentMs ?? null,
  }));
  return { limit, adaptive };
}

/** The public listener: protects the local app with a concurrency limit and the caller's deadline, then forwards. */
export function createInboundListener(deps: InboundDeps): H2Server {
  const callDeps: InboundCallDeps = { ...deps, ...appLimit(deps.inbound, deps.metrics) };

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

  /** A denied call is a span of its own in the caller's trace, so a trace shows where authorization stopped it. */
  const traceDenial = (request: GrpcRequest, headers: HeaderList, reason: string) => {
    const { tracer } = deps;
    if (!tracer) return;
    tracer.end(
      tracer.startCall("server", request, headerValue(headers, "traceparent") ?? ""),
      Status.PERMISSION_DENIED,
      reason,
    );
  };

  const onStream = (stream: H2Stream, headers: HeaderList, endStream: boolean, peer: Peer | undefined) => {
    const request = readGrpcRequest(headers, stream.headerListSize, deps.limits.maxHeaderListBytes);
    if (isProblem(request)) return rejectRequest(stream, request);
    const denied = denial(request, headers, peer);
    if (denied) {
      traceDenial(request, headers, denied);
      return rejectRequest(stream, { httpStatus: 200, code: Status.PERMISSION_DENIED, message: denied });
    }
    const call = new DownstreamCall(stream, deps.limits, endStream);
    if (deps.draining()) return call.refuse();
    const forwarded = forwardedRequest(headers, request.path, "http", deps.tracer !== undefined);
    new InboundCall(callDeps, call, request, forwarded, routeMetrics(request)).start();
  };

  return createH2Server({
    maxConcurrentStreams: deps.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    secure: deps.mesh?.secure,
    onStream,
  });
}
