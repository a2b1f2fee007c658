import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import { type RouteStats, UNKNOWN_METHOD } from "../admin/route-stats.ts";
import { type MethodPolicy, resolveMethodPolicy } from "../config/policy.ts";
import type { SidecarConfig } from "../config/schema.ts";
import type { Idempotency, MethodCatalog } from "../descriptors/method-catalog.ts";
import { Status } from "../grpc/status.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream } from "../h2/proto/index.ts";
import { DownstreamCall } from "../proxy/downstream-call.ts";
import { type GrpcRequest, isProblem, readGrpcRequest, rejectRequest } from "../proxy/grpc-request.ts";
import { createH2Server, type H2Server } from "../proxy/h2-server.ts";
import { forwardedRequest } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { LatencyWindow } from "../resilience/latency-window.ts";
import type { CallTracer } from "../tracing/call-tracer.ts";
import { OutboundRun } from "./call-pipeline.ts";
import type { Cluster } from "./cluster.ts";
import type { Router } from "./router.ts";

export interface OutboundDeps {
  config: SidecarConfig;
  router: Router;
  clusters: ReadonlyMap<string, Cluster>;
  catalog: MethodCatalog;
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  log: Logger;
  /** Spans for every call and attempt, when the sidecar traces. */
  tracer?: CallTracer;
}

interface OutboundRoute {
  policy: MethodPolicy;
  idempotency: Idempotency;
  holdResponseBytes: number;
  metrics: RouteStats;
  latency: LatencyWindow;
  breaker: CircuitBreaker;
}

/**
 * The route of an upstream's calls to methods the descriptor sets do not describe, one for them all, and one for each
 * of the upstream's `methods` overrides (their policy) sharing its statistics, latency and breaker.
 */
interface UnknownRoutes {
  route: OutboundRoute;
  /**
   * By the path an override names (`/package.Service/Method`) or its method name (`Method`), so a call looks it up
   * without building a key; undefined when the upstream has no overrides.
   */
  overridden: Map<string, OutboundRoute> | undefined;
}

/** The listener the local app calls other services through. */
export function createOutboundListener(deps: OutboundDeps): OutboundListener {
  // Everything a call to one method of one upstream needs besides the call itself, worked out on its first call; for
  // the contracts' methods only: callers choose paths, so any other path takes its upstream's unknown route.
  const routes = new Map<string, Map<string, OutboundRoute>>();
  const unknownRoutes = new Map<string, UnknownRoutes>();
  const unknownRoutesOf = (upstream: string, cluster: Cluster): UnknownRoutes => {
    const config = deps.config.upstreams[upstream];
    const shared = {
      idempotency: "unknown" as const,
      holdResponseBytes: 0,
      metrics: deps.metrics.route("outbound", upstream, UNKNOWN_METHOD),
      latency: new LatencyWindow(),
      breaker: cluster.breakers.breakerFor("", false),
    };
    const policy = (service: string, method: string) => ({
      ...shared,
      policy: resolveMethodPolicy(deps.config.defaults, config, service, method),
    });
    const keys = Object.keys(config?.methods ?? {});
    const overridden =
      keys.length === 0
        ? undefined
        : new Map(
            keys.map((key) => {
              const slash = key.indexOf("/");
              if (slash < 0) return [key, policy("", key)];
              return [`/${key}`, policy(key.slice(0, slash), key.slice(slash + 1))];
            }),
          );
    return { route: policy("", ""), overridden };
  };
  const unknownRoute = (upstream: string, cluster: Cluster, request: GrpcRequest): OutboundRoute => {
    let unknown = unknownRoutes.get(upstream);
    if (!unknown) {
      unknown = unknownRoutesOf(upstream, cluster);
      unknownRoutes.set(upstream, unknown);
    }
    const { overridden } = unknown;
    if (!overridden) return unknown.route;
    return overridden.get(request.path) ?? overridden.get(request.method) ?? unknown.route;
  };
  const routeFor = (upstream: string, cluster: Cluster, request: GrpcRequest): OutboundRoute => {
    let byUpstream = routes.get(request.path);
    if (!byUpstream) {
      if (!deps.catalog.describes(request.path)) return unknownRoute(upstream, cluster, request);
      byUpstream = new Map();
      routes.set(request.path, byUpstream);
    }
    let route = byUpstream.get(upstream);
    if (!route) {
      route = {
        policy: resolveMethodPolicy(
          deps.config.defaults,
          deps.config.upstreams[upstream],
          request.service,
          request.method,
        ),
        idempotency: deps.catalog.idempotency(request.path),
        holdResponseBytes: deps.catalog.answersOnce(request.path) ? deps.config.limits.retryBufferBytes : 0,
        metrics: deps.metrics.route("outbound", upstream, request.method),
        latency: new LatencyWindow(),
        breaker: cluster.breakers.breakerFor(request.path, deps.catalog.describes(request.path)),
      };
      byUpstream.set(upstream, route);
    }
    return route;
  };

  const onStream = (stream: H2Stream, headers: HeaderList, endStream: boolean) => {
    const request = readGrpcRequest(headers, stream.headerListSize, deps.config.limits.maxHeaderListBytes);
    if (isProblem(request)) return rejectRequest(stream, request);
    const upstream = deps.router.route(request.service, request.authority);
    const cluster = upstream ? deps.clusters.get(upstream) : undefined;
    if (!upstream || !cluster) {
      const message = `no upstream serves ${request.service} (list it under upstreams.<name>.services)`;
      return rejectRequest(stream, { httpStatus: 200, code: Status.UNIMPLEMENTED, message });
    }
    const route = routeFor(upstream, cluster, request);
    const outbound = {
      call: new DownstreamCall(stream, deps.config.limits, endStream),
      request,
      headers: forwardedRequest(headers, request.path, deps.pool.secure ? "https" : "http", deps.tracer !== undefined),
      cluster,
      policy: route.policy,
      idempotency: route.idempotency,
      holdResponseBytes: route.holdResponseBytes,
      stats: route.metrics,
      latency: route.latency,
      breaker: route.breaker,
    };
    new OutboundRun(outbound, deps).start();
  };

  const server = createH2Server({
    maxConcurrentStreams: deps.config.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.config.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    onStream,
    onHandlerError: (error, streamId) =>
      deps.log.error({ err: error, streamId }, "stream handler failed; stream reset"),
  });
  return {
    ...server,
    routeCount: () => {
      let count = 0;
      for (const byUpstream of routes.values()) count += byUpstream.size;
      return count;
    },
  };
}

/** The outbound listener, and how many (method path, upstream) routes it keeps. */
export type OutboundListener = H2Server & { routeCount(): number };
