import { setTimeout as sleep } from "node:timers/promises";
import type { Metadata } from "@grpc/grpc-js";
import { type EchoRequest, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { type CallContext, implement } from "../grpc/handlers.ts";
import { type RunningGrpcServer, startGrpcServer } from "../grpc/server.ts";
import { ServiceError } from "../grpc/service-error.ts";
import { createLogger } from "../logging/logger.ts";

/** Behaviour forced on every call, whatever the request asks: lets a test make one instance fail or stall. */
export interface ForcedBehaviour {
  failCode?: number;
  failMessage?: string;
  delayMs?: number;
}

export interface EchoServer extends RunningGrpcServer {
  readonly name: string;
  /** How many calls each method (by name) received. */
  readonly received: Map<string, number>;
  /** How many calls each method saw cancelled (by the caller, a reset stream or the deadline) before finishing. */
  readonly cancelled: Map<string, number>;
  /**
   * How many responses each streaming method (Expand, Chat) has produced. A stream's next response is produced only
   * once grpc-js took the previous one into its buffer (or that buffer drained), so while a caller reads slowly this
   * shows how far ahead of the caller the app got: how much the path in between holds.
   */
  readonly sent: Map<string, number>;
  /** Set to make every call behave this way; undefined to obey each request. */
  forced: ForcedBehaviour | undefined;
}

function metadataRecord(metadata: Metadata): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string") record[key] = value;
  }
  return record;
}

function payloadFor(request: EchoRequest): Uint8Array {
  return request.responseSize > 0 ? new Uint8Array(request.responseSize).fill(0x61) : request.payload;
}

/** The echo test service: answers with what it saw, failing or stalling when a request or the test says so. */
export async function startEchoServer(
  name: string,
  options: { port?: number; host?: string; maxReceiveMessageBytes?: number } = {},
): Promise<EchoServer> {
  const received = new Map<string, number>();
  const cancelled = new Map<string, number>();
  const sent = new Map<string, number>();
  const increment = (counts: Map<string, number>, method: string) => counts.set(method, (counts.get(method) ?? 0) + 1);
  // The returned server object; handlers read its `forced` field on every call.
  const control: { forced?: ForcedBehaviour } = {};

  const count = (context: CallContext) => {
    increment(received, context.method.name);
    context.signal.addEventListener("abort", () => increment(cancelled, context.method.name), { once: true });
  };

  const behave = async (request: EchoRequest, context: CallContext) => {
    const delayMs = control.forced?.delayMs ?? request.delayMs;
    if (delayMs > 0) await sleep(delayMs, undefined, { signal: context.signal });
    const failCode = control.forced?.failCode ?? request.failCode;
    if (failCode !== 0) throw new ServiceError(failCode, control.forced?.failMessage ?? request.failMessage);
  };

  const reply = (request: EchoRequest, context: CallContext, index = 0) => ({
    message: request.message,
    payload: payloadFor(request),
    servedBy: name,
    deadlineRemainingMs: context.deadline ? BigInt(Math.max(0, context.deadline.getTime() - Date.now())) : 0n,
    metadata: metadataRecord(context.metadata),
    index,
  });

  const unary = async (request: EchoRequest, context: CallContext) => {
    count(context);
    await behave(request, context);
    return reply(request, context);
  };

  const service = implement(EchoService, {
    echo: unary,
    write: unary,
    async *expand(request, context) {
      count(context);
      const total = Math.max(1, request.repeat);
      for (let index = 0; index < total; index++) {
        if (request.failCode !== 0 && index === request.failAfter) {
          throw new ServiceError(request.failCode, request.failMessage);
        }
        if (index > 0 && request.delayMs > 0) await sleep(request.delayMs, undefined, { signal: context.signal });
        increment(sent, context.method.name);
        yield reply(request, context, index);
      }
    },
    async collect(requests, context) {
      count(context);
      const messages: string[] = [];
      let last: EchoRequest | undefined;
      for await (const request of requests) {
        messages.push(request.message);
        last = request;
      }
      if (last) await behave(last, context);
      return { message: messages.join(" "), servedBy: name, metadata: metadataRecord(context.metadata) };
    },
    async *chat(requests, context) {
      count(context);
      let index = 0;
      for await (const request of requests) {
        await behave(request, context);
        increment(sent, context.method.name);
        yield reply(request, context, index++);
      }
    },
  });

  const server = await startGrpcServer({
    services: [service],
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    maxReceiveMessageBytes: options.maxReceiveMessageBytes,
    logger: createLogger(`echo-${name}`),
  });
  return Object.defineProperties(Object.assign(server, { name, received, cancelled, sent }), {
    forced: {
      get: () => control.forced,
      set: (value: ForcedBehaviour | undefined) => {
        control.forced = value;
      },
      enumerable: true,
    },
  }) as EchoServer;
}
