import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { type EchoRequest, EchoRequestSchema, type EchoResponse, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceDefinition } from "../src/index.ts";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

// A client built by grpc-js itself (its generic client over the same service definition), so the calls cross a
// real HTTP/2 connection through grpc-js's client stack.
type EchoClient = Client & Record<string, (...args: unknown[]) => unknown>;

let server: EchoServer;
let client: EchoClient;

beforeAll(async () => {
  server = await startEchoServer("kit-a");
  const Constructor = makeGenericClientConstructor(serviceDefinition(EchoService), "EchoService");
  client = new Constructor(server.address, credentials.createInsecure()) as unknown as EchoClient;
});

afterAll(async () => {
  client.close();
  await server.shutdown(100);
});

const request = (init: MessageInitShape<typeof EchoRequestSchema>) => create(EchoRequestSchema, init);

function unary(method: string, input: EchoRequest, options: { metadata?: Metadata; deadlineMs?: number } = {}) {
  return new Promise<EchoResponse>((resolve, reject) => {
    const deadline = options.deadlineMs ? Date.now() + options.deadlineMs : Number.POSITIVE_INFINITY;
    client[method]?.(
      input,
      options.metadata ?? new Metadata(),
      { deadline },
      (error: ServiceError | null, reply: EchoResponse) => (error ? reject(error) : resolve(reply)),
    );
  });
}

describe("kit server with a grpc-js client", () => {
  it("answers a unary call with the server's view of the call", async () => {
    const metadata = new Metadata();
    metadata.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const reply = await unary("echo", request({ message: "hello" }), { metadata, deadlineMs: 2000 });
    expect(reply.message).toBe("hello");
    expect(reply.servedBy).toBe("kit-a");
    expect(reply.metadata.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(Number(reply.deadlineRemainingMs)).toBeGreaterThan(1000);
    expect(Number(reply.deadlineRemainingMs)).toBeLessThanOrEqual(2000);
  });

  it("carries a handler's status code and message, unicode included", async () => {
    const failure = unary("echo", request({ failCode: status.FAILED_PRECONDITION, failMessage: "stock 0 % ünï" }));
    await expect(failure).rejects.toMatchObject({ code: status.FAILED_PRECONDITION, details: "stock 0 % ünï" });
  });

  it("ends a call past its deadline with DEADLINE_EXCEEDED and cancels the handler", async () => {
    const before = server.received.get("Write") ?? 0;
    await expect(unary("write", request({ delayMs: 3000 }), { deadlineMs: 150 })).rejects.toMatchObject({
      code: status.DEADLINE_EXCEEDED,
    });
    expect(server.received.get("Write")).toBe(before + 1);
    await expect.poll(() => server.cancelled.get("Write")).toBe(1);
  });

  it("passes a message of 3 MiB each way", async () => {
    const payload = new Uint8Array(3 * 1024 * 1024).fill(7);
    const reply = await unary("echo", request({ payload }));
    expect(reply.payload.length).toBe(payload.length);
  });

  it("rejects a request larger than the receive limit with RESOURCE_EXHAUSTED", async () => {
    const payload = new Uint8Array(5 * 1024 * 1024);
    await expect(unary("echo", request({ payload }))).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
  });

  it("streams responses to the client", async () => {
    const call = client.expand?.(request({ message: "s", repeat: 4 })) as AsyncIterable<EchoResponse>;
    const indexes: number[] = [];
    for await (const reply of call) indexes.push(reply.index);
    expect(indexes).toEqual([0, 1, 2, 3]);
  });

  it("ends a server stream with the handler's status after the responses it sent", async () => {
    const call = client.expand?.(
      request({ repeat: 5, failAfter: 2, failCode: status.UNAVAILABLE, failMessage: "gone" }),
    ) as AsyncIterable<EchoResponse>;
    const indexes: number[] = [];
    const consume = async () => {
      for await (const reply of call) indexes.push(reply.index);
    };
    await expect(consume()).rejects.toMatchObject({ code: status.UNAVAILABLE, details: "gone" });
    expect(indexes).toEqual([0, 1]);
  });

  it("reads a client stream", async () => {
    const reply = await new Promise<EchoResponse>((resolve, reject) => {
      const call = client.collect?.((error: ServiceError | null, response: EchoResponse) =>
        error ? reject(error) : resolve(response),
      ) as NodeJS.WritableStream;
      for (const word of ["one", "two", "three"]) call.write(request({ message: word }) as never);
      call.end();
    });
    expect(reply.message).toBe("one two three");
  });

  it("answers each message of a bidirectional stream", async () => {
    const call = client.chat?.() as NodeJS.ReadWriteStream & AsyncIterable<EchoResponse>;
    call.write(request({ message: "ping" }) as never);
    call.write(request({ message: "pong" }) as never);
    call.end();
    const messages: string[] = [];
    for await (const reply of call) messages.push(reply.message);
    expect(messages).toEqual(["ping", "pong"]);
  });
});
