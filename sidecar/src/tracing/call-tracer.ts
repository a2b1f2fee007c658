import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { parseTraceParent } from "@opentelemetry/core";
import type { GrpcRequest } from "../proxy/grpc-request.ts";

export type { Span };

function parentContext(traceparent: string): Context {
  const parent = traceparent ? parseTraceParent(traceparent) : null;
  return parent ? trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true }) : ROOT_CONTEXT;
}

function rpcAttributes(request: GrpcRequest): Attributes {
  return { "rpc.system": "grpc", "rpc.service": request.service, "rpc.method": request.method };
}

/**
 * The sidecar's spans, named and attributed as OpenTelemetry's RPC conventions say: a server span per inbound
 * call, a client span per outbound call, and a client span per attempt under it. Loaded only when tracing is on,
 * so a sidecar without it never loads the SDK.
 */
export class CallTracer {
  constructor(private readonly tracer: Tracer) {}

  /** A call's span, continuing the caller's `traceparent` (empty: a new trace). */
  startCall(kind: "server" | "client", request: GrpcRequest, traceparent: string, upstream?: string): Span {
    const attributes = rpcAttributes(request);
    if (upstream) attributes["mesh.upstream"] = upstream;
    return this.tracer.startSpan(
      request.path.slice(1),
      { kind: kind === "server" ? SpanKind.SERVER : SpanKind.CLIENT, attributes },
      parentContext(traceparent),
    );
  }

  /** One attempt of an outbound call at an endpoint; `retryReason` says why it follows an earlier one. */
  startAttempt(call: Span, request: GrpcRequest, attempt: number, endpoint: string, retryReason?: string): Span {
    const attributes = rpcAttributes(request);
    attributes["mesh.attempt"] = attempt;
    const colon = endpoint.lastIndexOf(":");
    attributes["server.address"] = endpoint.slice(0, colon).replace(/^\[|\]$/g, "");
    attributes["server.port"] = Number(endpoint.slice(colon + 1));
    if (retryReason) attributes["mesh.retry_reason"] = retryReason;
    return this.tracer.startSpan(
      `attempt ${request.path.slice(1)}`,
      { kind: SpanKind.CLIENT, attributes },
      trace.setSpan(ROOT_CONTEXT, call),
    );
  }

  /** Ends a span with the call's or attempt's gRPC status. */
  end(span: Span, code: number, message?: string): void {
    span.setAttribute("rpc.grpc.status_code", code);
    if (code !== 0) span.setStatus(message ? { code: SpanStatusCode.ERROR, message } : { code: SpanStatusCode.ERROR });
    span.end();
  }

  /** The W3C `traceparent` that makes the next hop a child of `span`. */
  traceparent(span: Span): string {
    const { traceId, spanId, traceFlags } = span.spanContext();
    return `00-${traceId}-${spanId}-${traceFlags & 1 ? "01" : "00"}`;
  }
}
