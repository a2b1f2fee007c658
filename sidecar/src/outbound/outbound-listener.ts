import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
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

/** The listener the local app calls other services through. */
export function createOutboundListener(deps: OutboundDeps): H2Server {
  // Everything a call to one method of one upstream needs besides the call itself, worked out on its first call.
  const routes = new Map<string, Map<string, OutboundRoute>>();
  const routeFor = (upstream: string, cluster: Cluster, request: GrpcRequest): OutboundRoute => {
    let byUpstream = routes.get(request.path);
    if (!byUpstream) {
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

  return createH2Server({
    maxConcurrentStreams: deps.config.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.config.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    onStream,
  });
}
