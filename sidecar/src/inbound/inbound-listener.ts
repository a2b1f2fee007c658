import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import { UNKNOWN_METHOD } from "../admin/route-stats.ts";
import type { IntentionWatch } from "../authorization/intention-watch.ts";
import type { SidecarConfig } from "../config/schema.ts";
import type { MethodCatalog } from "../descriptors/method-catalog.ts";
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
import {
  APP,
  applyAdaptiveLimit,
  InboundCall,
  type InboundCallDeps,
  type InboundConfig,
  type InboundRoute,
} from "./inbound-call.ts";

/**
 * The health checks' own bounds, apart from the app's concurrency limit: Watch streams (each held open as long as its
 * caller watches) and the short calls (Check, List) in flight at once. Beyond them a health call is refused.
 */
export const HEALTH_WATCH_LIMIT = 16;
export const HEALTH_CHECK_LIMIT = 32;

const HEALTH_SERVICE = "/grpc.health.v1.Health/";

export interface InboundDeps {
  inbound: InboundConfig;
  limits: SidecarConfig["limits"];
  pool: SessionPool;
  /** The contracts' methods: only these (and the health checks) get routes and metric series of their own. */
  catalog: MethodCatalog;
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
export function createInboundListener(deps: InboundDeps): InboundListener {
  const callDeps: InboundCallDeps = { ...deps, ...appLimit(deps.inbound, deps.metrics) };

  // Routes by method path, for the contracts' methods and the health checks only: callers choose paths, so any other
  // path shares `unknown`, made once, rather than growing this map and the metrics without bound.
  const routes = new Map<string, InboundRoute>();
  const appRoute = (method: string): InboundRoute => ({
    stats: deps.metrics.route("inbound", APP, method),
    slots: callDeps.limit,
    health: undefined,
  });
  const unknown = appRoute(UNKNOWN_METHOD);
  const healthSlots = (limit: number, health: string) => ({
    slots: new Bulkhead({ maxConcurrent: limit, maxQueue: 0 }),
    health,
  });
  const watches = healthSlots(HEALTH_WATCH_LIMIT, "health Watch streams open");
  const checks = healthSlots(HEALTH_CHECK_LIMIT, "health Check and List calls in flight");
  for (const [method, slots] of [
    ["Check", checks],
    ["List", checks],
    ["Watch", watches],
  ] as const) {
    routes.set(`${HEALTH_SERVICE}${method}`, { stats: deps.metrics.route("inbound", APP, method), ...slots });
  }
  const routeFor = (request: GrpcRequest): InboundRoute => {
    let route = routes.get(request.path);
    if (!route) {
      if (!deps.catalog.describes(request.path)) return unknown;
      route = appRoute(request.method);
      routes.set(request.path, route);
    }
    return route;
  };

  /** Why the caller may not make this call, or undefined when it may (or when authorization is off). */
  const denial = (request: GrpcRequest, route: InboundRoute, headers: HeaderList, peer: Peer | undefined) => {
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
    deps.metrics.authorizationDenied(source, mesh.service, route === unknown ? UNKNOWN_METHOD : request.path);
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
    const route = routeFor(request);
    const denied = denial(request, route, headers, peer);
    if (denied) {
      traceDenial(request, headers, denied);
      return rejectRequest(stream, { httpStatus: 200, code: Status.PERMISSION_DENIED, message: denied });
    }
    const call = new DownstreamCall(stream, deps.limits, endStream);
    if (deps.draining()) return call.refuse();
    const forwarded = forwardedRequest(headers, request.path, "http", deps.tracer !== undefined);
    new InboundCall(callDeps, call, request, forwarded, route).start();
  };

  const server = createH2Server({
    maxConcurrentStreams: deps.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    secure: deps.mesh?.secure,
    onStream,
    onHandlerError: (error, streamId) =>
      deps.log.error({ err: error, streamId }, "stream handler failed; stream reset"),
  });
  return { ...server, routeCount: () => routes.size };
}

/** The inbound listener, and how many method paths it keeps a route for. */
export type InboundListener = H2Server & { routeCount(): number };
