import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { kitTracer } from "./kit-tracer.ts";

type NodeHandler = (
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
) => void;

/** Health checks (every few seconds from the sidecar) get no span: they would bury the traces that matter. */
const UNTRACED_SERVICES = new Set(["grpc.health.v1.Health"]);

/** `/pkg.Service/Method` -> its service and method; undefined for any other path (no RPC, no span). */
function rpcOfPath(path: string): { service: string; method: string } | undefined {
  const match = /^\/([\w.]+)\/(\w+)$/.exec(path);
  return match?.[1] && match[2] ? { service: match[1], method: match[2] } : undefined;
}

/** Connect's error code in the form OpenTelemetry's conventions use (`not_found`). */
function errorCodeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (letter, offset) => `${offset ? "_" : ""}${letter.toLowerCase()}`);
}

/**
 * Marks the request's span as failed with the RPC's error. The gRPC protocol answers errors with HTTP 200, so the
 * HTTP status alone would not show them.
 */
const recordFailure: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    const failure = ConnectError.from(error);
    const span = trace.getActiveSpan();
    span?.setAttribute("rpc.connect_rpc.error_code", errorCodeName(failure.code));
    span?.setStatus({ code: SpanStatusCode.ERROR, message: failure.rawMessage });
    throw error;
  }
};

/**
 * connect-node's adapter (Connect, gRPC-Web and gRPC over HTTP) with a SERVER span per RPC request, continuing the
 * caller's traceparent; handlers run inside it, so the calls they make are its children.
 */
export function tracedConnectNodeAdapter(options: ConnectNodeAdapterOptions): NodeHandler {
  const handler = connectNodeAdapter({ ...options, interceptors: [recordFailure, ...(options.interceptors ?? [])] });
  return (request, response) => {
    const path = new URL(request.url ?? "/", "http://edge").pathname;
    const rpc = rpcOfPath(path);
    if (!rpc || UNTRACED_SERVICES.has(rpc.service)) return handler(request, response);
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = kitTracer().startSpan(
      `${rpc.service}/${rpc.method}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "connect_rpc",
          "rpc.service": rpc.service,
          "rpc.method": rpc.method,
          "http.request.method": request.method ?? "",
          "url.path": path,
        },
      },
      parent,
    );
    response.once("close", () => {
      span.setAttribute("http.response.status_code", response.statusCode);
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => handler(request, response));
  };
}
