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
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
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

function unary(
  method: DescMethod,
  handler: UnaryHandler<never, never>,
  log: Logger,
): handleUnaryCall<Message, unknown> {
  return (call, callback) => {
    const context = callContext(method, call);
    Promise.resolve()
      .then(() => handler(call.request as never, context))
      .then(
        (reply) => callback(null, create(method.output, reply), context.trailers),
        (error: unknown) => callback(reportFailure(log, method, error)),
      );
  };
}

function serverStreaming(
  method: DescMethod,
  handler: ServerStreamingHandler<never, never>,
  log: Logger,
): handleServerStreamingCall<Message, unknown> {
  return (call) => {
    const context = callContext(method, call);
    writeAll(method, call, handler(call.request as never, context), context.signal).then(
      () => call.end(context.trailers),
      (error: unknown) => call.emit("error", reportFailure(log, method, error)),
    );
  };
}

function clientStreaming(
  method: DescMethod,
  handler: ClientStreamingHandler<never, never>,
  log: Logger,
): handleClientStreamingCall<Message, unknown> {
  return (call, callback) => {
    const context = callContext(method, call);
    Promise.resolve()
      .then(() => handler(requestsOf(call), context))
      .then(
        (reply) => callback(null, create(method.output, reply), context.trailers),
        (error: unknown) => callback(reportFailure(log, method, error)),
      );
  };
}

function bidiStreaming(
  method: DescMethod,
  handler: BidiStreamingHandler<never, never>,
  log: Logger,
): handleBidiStreamingCall<Message, unknown> {
  return (call: ServerDuplexStream<Message, unknown>) => {
    const context = callContext(method, call);
    writeAll(method, call, handler(requestsOf(call), context), context.signal).then(
      () => call.end(context.trailers),
      (error: unknown) => call.emit("error", reportFailure(log, method, error)),
    );
  };
}

/** Wraps a typed handler into the grpc-js call handler for its method kind. */
export function adaptHandler(method: DescMethod, handler: AnyHandler, log: Logger): UntypedHandleCall {
  switch (method.methodKind) {
    case "unary":
      return unary(method, handler as UnaryHandler<never, never>, log) as UntypedHandleCall;
    case "server_streaming":
      return serverStreaming(method, handler as ServerStreamingHandler<never, never>, log) as UntypedHandleCall;
    case "client_streaming":
      return clientStreaming(method, handler as ClientStreamingHandler<never, never>, log) as UntypedHandleCall;
    case "bidi_streaming":
      return bidiStreaming(method, handler as BidiStreamingHandler<never, never>, log) as UntypedHandleCall;
  }
}
