import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import { type MethodPolicy, resolveMethodPolicy } from "../config/policy.ts";
import type { SidecarConfig } from "../config/schema.ts";
import type { MethodCatalog } from "../descriptors/method-catalog.ts";
import { Status } from "../grpc/status.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream } from "../h2/proto/index.ts";
import { trackCall } from "../proxy/call-tracking.ts";
import { DownstreamCall } from "../proxy/downstream-call.ts";
import { isProblem, readGrpcRequest, rejectRequest } from "../proxy/grpc-request.ts";
import { createH2Server, type H2Server } from "../proxy/h2-server.ts";
import { forwardedRequest } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import { proxyOutbound } from "./call-pipeline.ts";
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
}

/** The listener the local app calls other services through. */
export function createOutboundListener(deps: OutboundDeps): H2Server {
  const policies = new Map<string, MethodPolicy>();
  const policyFor = (upstream: string, service: string, method: string) => {
    const key = `${upstream}|${service}/${method}`;
    let policy = policies.get(key);
    if (!policy) {
      policy = resolveMethodPolicy(deps.config.defaults, deps.config.upstreams[upstream], service, method);
      policies.set(key, policy);
    }
    return policy;
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
    const call = new DownstreamCall(stream, deps.config.limits, endStream);
    const outbound = {
      call,
      request,
      headers: forwardedRequest(headers, request.path, deps.pool.secure ? "https" : "http"),
      cluster,
      policy: policyFor(upstream, request.service, request.method),
      idempotency: deps.catalog.idempotency(request.path),
      holdResponseBytes: deps.catalog.answersOnce(request.path) ? deps.config.limits.retryBufferBytes : 0,
    };
    trackCall(deps, "outbound", upstream, request, () => proxyOutbound(outbound, deps));
  };

  return createH2Server({
    maxConcurrentStreams: deps.config.limits.maxConcurrentStreams,
    maxHeaderListSize: deps.config.limits.maxHeaderListBytes,
    idleTimeoutMs: 300_000,
    onStream,
  });
}
