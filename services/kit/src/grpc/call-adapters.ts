import { type EventEmitter, once } from "node:events";
import type { Readable } from "node:stream";
import { create, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import {
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import { context as otelContext } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { HandlerSpan } from "../tracing/handler-span.ts";
import type {
  AnyHandler,
  BidiStreamingHandler,
  CallContext,
  ClientStreamingHandler,
  ServerStreamingHandler,
  UnaryHandler,
} from "./handlers.ts";
import { ServiceError, toStatusReport } from "./service-error.ts";

type SurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, "metadata" | "getDeadline" | "getPeer"> & EventEmitter;
type ResponseStream = Pick<ServerWritableStream<unknown, unknown>, "write"> & EventEmitter;
type Message = MessageShape<DescMethod["input"]>;

/** Starts the span a call is served in (or none, for calls not worth one). */
export type CallSpanStarter = (method: DescMethod, metadata: Metadata) => HandlerSpan;

function callContext(method: DescMethod, call: SurfaceCall): CallContext {
  const abort = new AbortController();
  call.on("cancelled", () => abort.abort(new Error("call cancelled")));
  const deadline = call.getDeadline();
  return {
    method,
    metadata: call.metadata,
    deadline: deadline === Number.POSITIVE_INFINITY ? undefined : new Date(deadline),
    signal: abort.signal,
    peer: call.getPeer(),
    trailers: new Metadata(),
  };
}

/**
 * The request messages of a streaming call. Node's default stream iterator destroys the stream when the loop ends,
 * which on a bidi call would also end the response side before the handler has answered.
 */
function requestsOf(call: Readable): AsyncIterable<never> {
  return call.iterator({ destroyOnReturn: false }) as AsyncIterable<never>;
}

function reportFailure(log: Logger, method: DescMethod, error: unknown) {
  if (!(error instanceof ServiceError)) {
    log.error({ err: error, method: method.name }, "handler failed");
  }
  return toStatusReport(error);
}

async function writeAll(
  method: DescMethod,
  call: ResponseStream,
  replies: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const reply of replies) {
    if (signal.aborted) return;
    if (!call.write(create(method.output, reply as never))) {
      await once(call, "drain", { signal });
    }
  }
}

/** The status a finished streaming call reports on its span: CANCELLED when the caller went away first. */
function finishStream(span: HandlerSpan, signal: AbortSignal) {
  if (signal.aborted) span.finish(status.CANCELLED, "call cancelled");
  else span.finish(status.OK);
}

/** What serving one call needs besides the call itself. */
interface Serving {
  method: DescMethod;
  log: Logger;
  startSpan: CallSpanStarter;
}

/** Serves a call answered by one message (unary, client streaming): reply or failure to `callback`, in its span. */
function answerOnce(
  { method, log, startSpan }: Serving,
  call: SurfaceCall,
  callback: Parameters<handleUnaryCall<Message, unknown>>[1],
  run: (context: CallContext) => unknown,
): void {
  const context = callContext(method, call);
  const span = startSpan(method, call.metadata);
  void otelContext.with(span.context, () =>
    Promise.resolve()
      .then(() => run(context))
      .then(
        (reply) => {
          span.finish(status.OK);
          callback(null, create(method.output, reply as never), context.trailers);
        },
        (error: unknown) => {
          const report = reportFailure(log, method, error);
          span.finish(report.code, report.details);
          callback(report);
        },
      ),
  );
}

/** Serves a call answered by a stream (server streaming, bidi): every reply written, then the trailers. */
function answerStream(
  { method, log, startSpan }: Serving,
  call: SurfaceCall & ResponseStream & { end(trailers?: Metadata): void },
  run: (context: CallContext) => AsyncIterable<unknown>,
): void {
  const context = callContext(method, call);
  const span = startSpan(method, call.metadata);
  void otelContext.with(span.context, () =>
    writeAll(method, call, run(context), context.signal).then(
      () => {
        finishStream(span, context.signal);
        call.end(context.trailers);
      },
      (error: unknown) => {
        const report = reportFailure(log, method, error);
        span.finish(report.code, report.details);
        call.emit("error", report);
      },
    ),
  );
}

/** Wraps a typed handler into the grpc-js call handler for its method kind, serving each call in its span. */
export function adaptHandler(
  method: DescMethod,
  handler: AnyHandler,
  log: Logger,
  startSpan: CallSpanStarter,
): UntypedHandleCall {
  const serving: Serving = { method, log, startSpan };
  switch (method.methodKind) {
    case "unary": {
      const unary = handler as UnaryHandler<never, never>;
      return ((call, callback) =>
        answerOnce(serving, call, callback, (context) =>
          unary(call.request as never, context),
        )) satisfies handleUnaryCall<Message, unknown> as UntypedHandleCall;
    }
    case "server_streaming": {
      const serverStreaming = handler as ServerStreamingHandler<never, never>;
      return ((call) =>
        answerStream(serving, call, (context) =>
          serverStreaming(call.request as never, context),
        )) satisfies handleServerStreamingCall<Message, unknown> as UntypedHandleCall;
    }
    case "client_streaming": {
      const clientStreaming = handler as ClientStreamingHandler<never, never>;
      return ((call, callback) =>
        answerOnce(serving, call, callback, (context) =>
          clientStreaming(requestsOf(call), context),
        )) satisfies handleClientStreamingCall<Message, unknown> as UntypedHandleCall;
    }
    case "bidi_streaming": {
      const bidi = handler as BidiStreamingHandler<never, never>;
      return ((call: ServerDuplexStream<Message, unknown>) =>
        answerStream(serving, call, (context) => bidi(requestsOf(call), context))) satisfies handleBidiStreamingCall<
        Message,
        unknown
      > as UntypedHandleCall;
    }
  }
}
