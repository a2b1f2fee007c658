import type { DescMethod } from "@bufbuild/protobuf";
import type { Metadata } from "@grpc/grpc-js";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { kitTracer } from "./kit-tracer.ts";
import { endRpcSpan, rpcAttributes, rpcSpanName } from "./rpc-spans.ts";

/** The span of one served call: the handler runs in `context`; `finish` records the call's gRPC status. */
export interface HandlerSpan {
  readonly context: Context;
  finish(code: number, message?: string): void;
}

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => metadata.get(key).map(String),
};

/** A SERVER span for a call of a method, continuing the trace of the caller's `traceparent` metadata. */
export function startHandlerSpan(method: DescMethod, metadata: Metadata): HandlerSpan {
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const span = kitTracer().startSpan(
    rpcSpanName(method),
    { kind: SpanKind.SERVER, attributes: rpcAttributes(method, "grpc") },
    parent,
  );
  return { context: trace.setSpan(parent, span), finish: (code, message) => endRpcSpan(span, code, message) };
}

/** For calls not worth a span (health checks, reflection): the handler runs in the current context. */
export function withoutSpan(): HandlerSpan {
  return { context: context.active(), finish() {} };
}
