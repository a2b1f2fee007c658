import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientWritableStream,
  credentials,
  type CallOptions as GrpcJsCallOptions,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { serviceDefinition } from "@mesh/kit";
import { type EchoServer, startEchoServer } from "@mesh/kit/testing";
import { type EchoRequestSchema, type EchoResponse, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcioQuestion, runGrpcioChecks } from "../../test/interop/grpcio.ts";
import { echoUpstream, startTestSidecar, type TestSidecar } from "./harness.ts";

// Three gRPC implementations we did not write (grpc-js, connect-node, Python grpcio) call the echo app through one
// sidecar (its inbound listener) and through two (outbound, then inbound): every kind of call, 4 MiB messages, a
// reader that pauses while the app streams many MiB, cancellation either way and deadlines.

const MiB = 1024 * 1024;
/** Messages of 4 MiB (plus framing) pass every limit on the way: the clients', the sidecars' and the app's. */
const MESSAGE_LIMIT = 16 * MiB;
const LARGE = 4 * MiB;
/** The slow-reader stream: 512 responses of 64 KiB, 32 MiB in all. */
const FLOW = { count: 512, size: 64 * 1024 };
/**
 * How far ahead of a paused reader the app may get: what the buffers and flow-control windows of the path hold, with
 * plenty of room, yet far below the 32 MiB the app pushes into a path that buffers without bound (as it does to a
 * paused raw HTTP/2 client that opens a 2 GiB window, directly or through the sidecars). Measured: 16 responses
 * (1 MiB) with connect-node and grpcio, 32 (2 MiB) with grpc-js, the same without sidecars: the app's and the
 * client's own buffers.
 */
const MAX_AHEAD_BYTES = 8 * MiB;

let app: EchoServer;
let inbound: TestSidecar;
let outbound: TestSidecar;

beforeAll(async () => {
  app = await startEchoServer("a", { maxReceiveMessageBytes: MESSAGE_LIMIT });
  const limits = { maxMessageBytes: MESSAGE_LIMIT };
  inbound = await startTestSidecar({ inbound: { listen: "127.0.0.1:0", app: app.address }, limits });
  outbound = await startTestSidecar({ upstreams: echoUpstream([{ address: inbound.inbound }]), limits });
});

afterAll(async () => {
  await outbound?.close();
  await inbound?.close();
  await app?.shutdown(100);
});

const count = (counts: Map<string, number>, method: string) => counts.get(method) ?? 0;

/** The app's counters for one method, to compare with after a call. */
function appCounters(method: string) {
  return {
    received: count(app.received, method),
    cancelled: count(app.cancelled, method),
    sent: count(app.sent, method),
  };
}

/** Polls until `condition` holds or `timeoutMs` passed; returns whether it held. */
async function until(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/**
 * Waits until the app has stopped producing responses of `method` (the same count over 300 ms, at most 5 s) and
 * returns how many it produced since `since`. Whatever the timing, a bounded path keeps this within its bound; an
 * unbounded one lets the app run to the end of the stream within a few milliseconds on loopback.
 */
async function appStalled(method: string, since: number): Promise<number> {
  const end = Date.now() + 5000;
  let last = -1;
  while (count(app.sent, method) !== last && Date.now() < end) {
    last = count(app.sent, method);
    await sleep(300);
  }
  return count(app.sent, method) - since;
}

/** Asserts what a paused reader of the FLOW stream saw: the app held back, then every message in order. */
function expectBackpressure(producedWhilePaused: number, received: number[], read = 1) {
  expect((producedWhilePaused - read) * FLOW.size).toBeLessThanOrEqual(MAX_AHEAD_BYTES);
  expect(received).toEqual(Array.from({ length: FLOW.count }, (_, index) => index));
}

const filled = (size: number, byte: number) => new Uint8Array(size).fill(byte);
const allBytes = (payload: Uint8Array, byte: number) => payload.every((value) => value === byte);

const hops = [
  { hops: "1 sidecar (inbound)", address: () => inbound.inbound },
  { hops: "2 sidecars (outbound, inbound)", address: () => outbound.outbound },
];

// ---- grpc-js ----

type Request = MessageInitShape<typeof EchoRequestSchema>;
type UnaryCallback = (error: ServiceError | null, reply: EchoResponse) => void;
/** grpc-js's generic client of the echo service, as its constructor builds it from the service definition. */
interface GrpcJsEcho {
  echo(request: Request, metadata: Metadata, options: GrpcJsCallOptions, callback: UnaryCallback): void;
  collect(metadata: Metadata, options: GrpcJsCallOptions, callback: UnaryCallback): ClientWritableStream<Request>;
  expand(request: Request, metadata: Metadata, options: GrpcJsCallOptions): ClientReadableStream<EchoResponse>;
  chat(metadata: Metadata, options: GrpcJsCallOptions): ClientDuplexStream<Request, EchoResponse>;
  close(): void;
}

/** Reads one message of a FLOW-sized Expand, waits until the app stops producing, then reads the rest. */
async function readAfterPause(iterator: AsyncIterator<EchoResponse>, sentBefore: number) {
  const received = [((await iterator.next()).value as EchoResponse).index];
  const produced = await appStalled("Expand", sentBefore);
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    expect(next.value.payload.length).toBe(FLOW.size);
    received.push(next.value.index);
  }
  expectBackpressure(produced, received);
}

function grpcJsClient(address: string): GrpcJsEcho {
  const Client = makeGenericClientConstructor(serviceDefinition(EchoService), "EchoService");
  return new Client(address, credentials.createInsecure(), {
    "grpc.max_receive_message_length": MESSAGE_LIMIT,
    "grpc.max_send_message_length": MESSAGE_LIMIT,
  }) as unknown as GrpcJsEcho;
}

const deadlineIn = (ms: number): GrpcJsCallOptions => ({ deadline: Date.now() + ms });

function grpcJsUnary(client: GrpcJsEcho, request: Request, options: GrpcJsCallOptions = deadlineIn(10_000)) {
  return new Promise<EchoResponse>((resolve, reject) =>
    client.echo(request, new Metadata(), options, (error, reply) => (error ? reject(error) : resolve(reply))),
  );
}

/** A client stream: writes the requests, ends, and resolves the one reply. */
function grpcJsCollect(client: GrpcJsEcho, requests: Request[]) {
  return new Promise<EchoResponse>((resolve, reject) => {
    const call = client.collect(new Metadata(), deadlineIn(10_000), (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** Reads a stream to its end; resolves what it read and the error that ended it, if one did. */
async function readAll<T>(stream: AsyncIterable<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

describe.each(hops)("grpc-js through $hops", ({ address }) => {
  let client: GrpcJsEcho;
  beforeAll(() => {
    client = grpcJsClient(address());
  });
  afterAll(() => client.close());

  it("makes all four kinds of call, bidi interleaved", async () => {
    const metadata = new Metadata();
    metadata.set("x-caller", "grpc-js");
    const reply = await new Promise<EchoResponse>((resolve, reject) =>
      client.echo({ message: "hello" }, metadata, deadlineIn(5000), (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
    expect(reply).toMatchObject({ message: "hello", servedBy: "a", metadata: { "x-caller": "grpc-js" } });
    expect((await grpcJsCollect(client, [{ message: "a" }, { message: "b" }, { message: "c" }])).message).toBe("a b c");
    const expanded = await readAll(client.expand({ repeat: 3 }, new Metadata(), deadlineIn(5000)));
    expect(expanded.items.map((item) => item.index)).toEqual([0, 1, 2]);

    // Ping-pong: each request goes out only once the previous reply came back through the sidecars.
    const chat = client.chat(new Metadata(), deadlineIn(5000));
    const replies: string[] = [];
    chat.write({ message: "ping-0" });
    for await (const item of chat as AsyncIterable<EchoResponse>) {
      replies.push(item.message);
      if (replies.length < 4) chat.write({ message: `ping-${replies.length}` });
      else chat.end();
    }
    expect(replies).toEqual(["ping-0", "ping-1", "ping-2", "ping-3"]);
  });

  it("sends and receives 4 MiB messages in every kind of call", async () => {
    const payload = filled(LARGE, 7);
    const echoed = await grpcJsUnary(client, { payload });
    expect(echoed.payload.length).toBe(LARGE);
    expect(allBytes(echoed.payload, 7)).toBe(true);
    expect((await grpcJsUnary(client, { responseSize: LARGE })).payload.length).toBe(LARGE);
    expect((await grpcJsCollect(client, [{ message: "big", payload }, { message: "end" }])).message).toBe("big end");
    const expanded = await readAll(
      client.expand({ repeat: 2, responseSize: LARGE }, new Metadata(), deadlineIn(10_000)),
    );
    expect(expanded.error).toBeUndefined();
    expect(expanded.items.map((item) => item.payload.length)).toEqual([LARGE, LARGE]);
    const chat = client.chat(new Metadata(), deadlineIn(10_000));
    chat.write({ payload });
    chat.write({ responseSize: LARGE });
    chat.end();
    const chatted = await readAll(chat as AsyncIterable<EchoResponse>);
    expect(chatted.error).toBeUndefined();
    expect(chatted.items.map((item) => item.payload.length)).toEqual([LARGE, LARGE]);
  });

  it("holds the app back while the reader pauses, then delivers every message", async () => {
    const before = appCounters("Expand");
    const stream = client.expand({ repeat: FLOW.count, responseSize: FLOW.size }, new Metadata(), deadlineIn(15_000));
    await readAfterPause((stream as AsyncIterable<EchoResponse>)[Symbol.asyncIterator](), before.sent);
  });

  it("cancels a server stream, a bidi stream and a client stream mid-call; the app sees each cancelled", async () => {
    const expand = appCounters("Expand");
    const stream = client.expand({ repeat: 100, delayMs: 50 }, new Metadata(), deadlineIn(10_000));
    const iterator = (stream as AsyncIterable<EchoResponse>)[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as EchoResponse).index).toBe(0);
    stream.cancel();
    await expect(iterator.next()).rejects.toMatchObject({ code: status.CANCELLED });
    await expect.poll(() => count(app.cancelled, "Expand")).toBe(expand.cancelled + 1);

    const chatCounts = appCounters("Chat");
    const chat = client.chat(new Metadata(), deadlineIn(10_000));
    const chatIterator = (chat as AsyncIterable<EchoResponse>)[Symbol.asyncIterator]();
    chat.write({ message: "first" });
    expect(((await chatIterator.next()).value as EchoResponse).message).toBe("first");
    chat.cancel();
    await expect(chatIterator.next()).rejects.toMatchObject({ code: status.CANCELLED });
    await expect.poll(() => count(app.cancelled, "Chat")).toBe(chatCounts.cancelled + 1);

    const collectCounts = appCounters("Collect");
    let collectError: ServiceError | undefined;
    const collect = client.collect(new Metadata(), deadlineIn(10_000), (error) => {
      collectError = error ?? undefined;
    });
    collect.write({ message: "first" });
    await expect.poll(() => count(app.received, "Collect")).toBe(collectCounts.received + 1);
    collect.cancel();
    await expect.poll(() => collectError?.code).toBe(status.CANCELLED);
    await expect.poll(() => count(app.cancelled, "Collect")).toBe(collectCounts.cancelled + 1);
  });

  it("passes on the status the app ends a stream with mid-stream", async () => {
    const expanded = await readAll(
      client.expand(
        { repeat: 5, failAfter: 2, failCode: status.ABORTED, failMessage: "gave up at 2 ✗" },
        new Metadata(),
        deadlineIn(5000),
      ),
    );
    expect(expanded.items.map((item) => item.index)).toEqual([0, 1]);
    expect(expanded.error).toMatchObject({ code: status.ABORTED, details: "gave up at 2 ✗" });

    const chat = client.chat(new Metadata(), deadlineIn(5000));
    chat.write({ message: "ok" });
    chat.write({ message: "bad", failCode: status.FAILED_PRECONDITION, failMessage: "no stock ✗" });
    chat.write({ message: "never" });
    chat.end();
    const chatted = await readAll(chat as AsyncIterable<EchoResponse>);
    expect(chatted.items.map((item) => item.message)).toEqual(["ok"]);
    expect(chatted.error).toMatchObject({ code: status.FAILED_PRECONDITION, details: "no stock ✗" });
  });

  it("ends calls past their deadline with DEADLINE_EXCEEDED; the app sees them cancelled", async () => {
    const echo = appCounters("Echo");
    await expect(grpcJsUnary(client, { delayMs: 10_000 }, deadlineIn(300))).rejects.toMatchObject({
      code: status.DEADLINE_EXCEEDED,
    });
    await expect.poll(() => count(app.cancelled, "Echo")).toBe(echo.cancelled + 1);

    const expand = appCounters("Expand");
    const expanded = await readAll(client.expand({ repeat: 3, delayMs: 10_000 }, new Metadata(), deadlineIn(500)));
    expect(expanded.items.map((item) => item.index)).toEqual([0]);
    expect(expanded.error).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    await expect.poll(() => count(app.cancelled, "Expand")).toBe(expand.cancelled + 1);
  });
});

// ---- connect-node ----

/** An async iterable of requests whose next request is only produced when `send` is called; `end` ends it. */
function requestQueue() {
  const pending: (Request | undefined)[] = [];
  let wake: (() => void) | undefined;
  const push = (request: Request | undefined) => {
    pending.push(request);
    wake?.();
  };
  return {
    send: (request: Request) => push(request),
    end: () => push(undefined),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const request = pending.shift();
        if (request === undefined) return;
        yield request;
      }
    },
  };
}

async function* requestsOf(...requests: Request[]) {
  yield* requests;
}

describe.each(hops)("connect-node through $hops", ({ address }) => {
  let echo: ReturnType<typeof createClient<typeof EchoService>>;
  beforeAll(() => {
    const transport = createGrpcTransport({
      baseUrl: `http://${address()}`,
      readMaxBytes: MESSAGE_LIMIT,
      writeMaxBytes: MESSAGE_LIMIT,
    });
    echo = createClient(EchoService, transport);
  });

  it("makes all four kinds of call, bidi interleaved", async () => {
    const reply = await echo.echo({ message: "hello" }, { headers: { "x-caller": "connect" }, timeoutMs: 5000 });
    expect(reply).toMatchObject({ message: "hello", servedBy: "a", metadata: { "x-caller": "connect" } });
    const collected = await echo.collect(requestsOf({ message: "a" }, { message: "b" }, { message: "c" }));
    expect(collected.message).toBe("a b c");
    const expanded = await readAll(echo.expand({ repeat: 3 }, { timeoutMs: 5000 }));
    expect(expanded.items.map((item) => item.index)).toEqual([0, 1, 2]);

    const requests = requestQueue();
    const replies: string[] = [];
    requests.send({ message: "ping-0" });
    for await (const item of echo.chat(requests, { timeoutMs: 5000 })) {
      replies.push(item.message);
      if (replies.length < 4) requests.send({ message: `ping-${replies.length}` });
      else requests.end();
    }
    expect(replies).toEqual(["ping-0", "ping-1", "ping-2", "ping-3"]);
  });

  it("sends and receives 4 MiB messages in every kind of call", async () => {
    const payload = filled(LARGE, 9);
    const echoed = await echo.echo({ payload }, { timeoutMs: 10_000 });
    expect(echoed.payload.length).toBe(LARGE);
    expect(allBytes(echoed.payload, 9)).toBe(true);
    expect((await echo.echo({ responseSize: LARGE }, { timeoutMs: 10_000 })).payload.length).toBe(LARGE);
    const collected = await echo.collect(requestsOf({ message: "big", payload }, { message: "end" }), {
      timeoutMs: 10_000,
    });
    expect(collected.message).toBe("big end");
    const expanded = await readAll(echo.expand({ repeat: 2, responseSize: LARGE }, { timeoutMs: 10_000 }));
    expect(expanded.error).toBeUndefined();
    expect(expanded.items.map((item) => item.payload.length)).toEqual([LARGE, LARGE]);
    const chatted = await readAll(echo.chat(requestsOf({ payload }, { responseSize: LARGE }), { timeoutMs: 10_000 }));
    expect(chatted.error).toBeUndefined();
    expect(chatted.items.map((item) => item.payload.length)).toEqual([LARGE, LARGE]);
  });

  it("holds the app back while the reader pauses, then delivers every message", async () => {
    const before = appCounters("Expand");
    const iterator = echo
      .expand({ repeat: FLOW.count, responseSize: FLOW.size }, { timeoutMs: 15_000 })
      [Symbol.asyncIterator]();
    await readAfterPause(iterator, before.sent);
  });

  it("cancels a server stream, a bidi stream and a client stream mid-call; the app sees each cancelled", async () => {
    const expand = appCounters("Expand");
    const abortExpand = new AbortController();
    const iterator = echo.expand({ repeat: 100, delayMs: 50 }, { signal: abortExpand.signal })[Symbol.asyncIterator]();
    expect(((await iterator.next()).value as EchoResponse).index).toBe(0);
    abortExpand.abort();
    await expect(iterator.next()).rejects.toSatisfy((error) => ConnectError.from(error).code === Code.Canceled);
    await expect.poll(() => count(app.cancelled, "Expand")).toBe(expand.cancelled + 1);

    const chat = appCounters("Chat");
    const abortChat = new AbortController();
    const requests = requestQueue();
    requests.send({ message: "first" });
    const chatIterator = echo.chat(requests, { signal: abortChat.signal })[Symbol.asyncIterator]();
    expect(((await chatIterator.next()).value as EchoResponse).message).toBe("first");
    abortChat.abort();
    await expect(chatIterator.next()).rejects.toSatisfy((error) => ConnectError.from(error).code === Code.Canceled);
    await expect.poll(() => count(app.cancelled, "Chat")).toBe(chat.cancelled + 1);

    const collect = appCounters("Collect");
    const abortCollect = new AbortController();
    const collectRequests = requestQueue();
    collectRequests.send({ message: "first" });
    const collected = echo.collect(collectRequests, { signal: abortCollect.signal });
    await expect.poll(() => count(app.received, "Collect")).toBe(collect.received + 1);
    abortCollect.abort();
    await expect(collected).rejects.toSatisfy((error) => ConnectError.from(error).code === Code.Canceled);
    await expect.poll(() => count(app.cancelled, "Collect")).toBe(collect.cancelled + 1);
  });

  it("passes on the status the app ends a stream with mid-stream", async () => {
    const expanded = await readAll(
      echo.expand({ repeat: 5, failAfter: 2, failCode: Code.Aborted, failMessage: "gave up at 2 ✗" }),
    );
    expect(expanded.items.map((item) => item.index)).toEqual([0, 1]);
    expect(expanded.error).toSatisfy(
      (error: ConnectError) => error.code === Code.Aborted && error.rawMessage === "gave up at 2 ✗",
    );
    const chatted = await readAll(
      echo.chat(
        requestsOf(
          { message: "ok" },
          { message: "bad", failCode: Code.FailedPrecondition, failMessage: "no stock ✗" },
          { message: "never" },
        ),
      ),
    );
    expect(chatted.items.map((item) => item.message)).toEqual(["ok"]);
    expect(chatted.error).toSatisfy(
      (error: ConnectError) => error.code === Code.FailedPrecondition && error.rawMessage === "no stock ✗",
    );
  });

  it("ends calls past their deadline with DEADLINE_EXCEEDED; the app sees them cancelled", async () => {
    const unary = appCounters("Echo");
    await expect(echo.echo({ delayMs: 10_000 }, { timeoutMs: 300 })).rejects.toSatisfy(
      (error) => ConnectError.from(error).code === Code.DeadlineExceeded,
    );
    await expect.poll(() => count(app.cancelled, "Echo")).toBe(unary.cancelled + 1);

    const expand = appCounters("Expand");
    const expanded = await readAll(echo.expand({ repeat: 3, delayMs: 10_000 }, { timeoutMs: 500 }));
    expect(expanded.items.map((item) => item.index)).toEqual([0]);
    expect(ConnectError.from(expanded.error).code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => count(app.cancelled, "Expand")).toBe(expand.cancelled + 1);
  });
});

// ---- Python grpcio ----

const PYTHON_CHECKS = [
  "unary",
  "serverStreaming",
  "clientStreaming",
  "bidi",
  "pingPong",
  "large",
  "slowReader",
  "cancelServerStream",
  "cancelBidi",
  "cancelClientStream",
  "errorMidServerStream",
  "errorMidBidi",
  "deadlineUnary",
  "deadlineServerStream",
];

/** Answers grpcio_client.py's questions about the app, relative to the counters at its last "snapshot". */
function answerAboutApp() {
  let mark = { received: new Map(app.received), cancelled: new Map(app.cancelled), sent: new Map(app.sent) };
  const since = (counts: "received" | "cancelled" | "sent", method: string) =>
    count(app[counts], method) - count(mark[counts], method);
  return async (question: GrpcioQuestion): Promise<unknown> => {
    const method = String(question.method);
    switch (question.ask) {
      case "snapshot":
        mark = { received: new Map(app.received), cancelled: new Map(app.cancelled), sent: new Map(app.sent) };
        return null;
      case "appReceived":
        await until(() => since("received", method) > 0);
        return since("received", method);
      case "appCancelled":
        await until(() => since("cancelled", method) > 0);
        return since("cancelled", method);
      case "appStalled":
        return { produced: await appStalled(method, count(mark.sent, method)) };
      default:
        throw new Error(`grpcio_client.py asked ${JSON.stringify(question)}`);
    }
  };
}

describe.each(hops)("Python grpcio through $hops", ({ address }) => {
  let results: Record<string, unknown>;
  beforeAll(async () => {
    results = await runGrpcioChecks(address(), { checks: PYTHON_CHECKS, answer: answerAboutApp() });
  }, 40_000);

  it("makes all four kinds of call, bidi interleaved", () => {
    expect(results.unary).toMatchObject({ message: "from python", servedBy: "a", client: "grpcio" });
    expect(results.clientStreaming).toBe("a b c");
    expect(results.serverStreaming).toEqual([0, 1, 2]);
    expect(results.bidi).toEqual(["x", "y"]);
    expect(results.pingPong).toEqual(["ping-0", "ping-1", "ping-2", "ping-3"]);
  });

  it("sends and receives 4 MiB messages in every kind of call", () => {
    expect(results.large).toEqual({
      unaryRequest: LARGE,
      unaryIntact: true,
      unaryResponse: LARGE,
      clientStreaming: "big end",
      serverStreaming: [LARGE, LARGE],
      bidi: [LARGE, LARGE],
    });
  });

  it("holds the app back while the reader pauses, then delivers every message", () => {
    const slow = results.slowReader as { app: { produced: number }; received: number; inOrder: boolean };
    expect(slow).toMatchObject({ received: FLOW.count, inOrder: true, sizesOk: true });
    expect((slow.app.produced - 1) * FLOW.size).toBeLessThanOrEqual(MAX_AHEAD_BYTES);
  });

  it("cancels a server stream, a bidi stream and a client stream mid-call; the app sees each cancelled", () => {
    expect(results.cancelServerStream).toMatchObject({ code: "CANCELLED", first: 0, appCancelled: 1 });
    expect(results.cancelBidi).toMatchObject({ code: "CANCELLED", first: "first", appCancelled: 1 });
    expect(results.cancelClientStream).toMatchObject({ code: "CANCELLED", appCancelled: 1 });
  });

  it("passes on the status the app ends a stream with mid-stream", () => {
    expect(results.errorMidServerStream).toEqual({ code: "ABORTED", details: "gave up at 2 ✗", received: [0, 1] });
    expect(results.errorMidBidi).toEqual({ code: "FAILED_PRECONDITION", details: "no stock ✗", received: ["ok"] });
  });

  it("ends calls past their deadline with DEADLINE_EXCEEDED; the app sees them cancelled", () => {
    expect(results.deadlineUnary).toMatchObject({ code: "DEADLINE_EXCEEDED", appCancelled: 1 });
    expect(results.deadlineServerStream).toMatchObject({ code: "DEADLINE_EXCEEDED", received: [0], appCancelled: 1 });
  });
});
