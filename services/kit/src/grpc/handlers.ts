import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { Metadata } from "@grpc/grpc-js";

/** What a handler knows about the call it serves. */
export interface CallContext {
  readonly method: DescMethod;
  /** The request metadata (headers) the caller sent. */
  readonly metadata: Metadata;
  /** When the caller stops waiting; undefined when it set no deadline. */
  readonly deadline: Date | undefined;
  /** Aborted when the caller cancels or the deadline passes: stop work and return. */
  readonly signal: AbortSignal;
  /** The caller's address, as `host:port`. */
  readonly peer: string;
  /** Trailers sent with the final status; handlers may add to them. */
  readonly trailers: Metadata;
}

type Reply<O extends DescMessage> = MessageInitShape<O>;

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<Reply<O>> | Reply<O>;

export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<Reply<O>>;

export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => Promise<Reply<O>>;

export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: CallContext,
) => AsyncIterable<Reply<O>>;

type HandlerOf<M> = M extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? M extends { methodKind: "unary" }
    ? UnaryHandler<I, O>
    : M extends { methodKind: "server_streaming" }
      ? ServerStreamingHandler<I, O>
      : M extends { methodKind: "client_streaming" }
        ? ClientStreamingHandler<I, O>
        : BidiStreamingHandler<I, O>
  : never;

/** One typed handler per method of a generated service, keyed by the method's local (camelCase) name. */
export type ServiceHandlers<S extends GenServiceMethods> = { [K in keyof S]: HandlerOf<S[K]> };

// Past the typed `implement` boundary, handlers are called by method kind; their signatures are checked there.
export type AnyHandler = (input: never, context: CallContext) => unknown;

/** A service and its handlers, ready to be added to a server. */
export interface ServiceImplementation {
  readonly service: DescService;
  readonly handlers: Readonly<Record<string, AnyHandler>>;
}

/** Pairs a generated service with its typed handlers. */
export function implement<S extends GenServiceMethods>(
  service: GenService<S>,
  handlers: ServiceHandlers<S>,
): ServiceImplementation {
  return { service, handlers: handlers as Record<string, AnyHandler> };
}
