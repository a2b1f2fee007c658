// Mesh-internal fields (x-mesh-*) are a sidecar's word to another sidecar: an app's answers, metadata it passes on
// from a failed downstream call, or a caller's request can never carry them through, so no app can make a caller's
// sidecar believe that a call which ran never reached the app, and run it again. And a header value with a CR, LF
// or NUL (malformed, RFC 9113 8.2.1) is refused where it arrives, never forwarded.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Metadata, Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";
import { serviceDefinition } from "@mesh/kit";
import {
  type EchoRequest,
  EchoRequestSchema,
  type EchoResponse,
  EchoResponseSchema,
  EchoService,
} from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ErrorCode, encodeData, errorCodeName } from "../src/h2/frame/index.ts";
import { echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";
import { type Fields, fieldValue, RawH2, type RawServer, startRawServer } from "./raw-h2.ts";

const WRITE = "/mesh.echo.v1.EchoService/Write";

/** A grpc-js app that answers Write as its request's message says, counting the calls it received. */
interface ForgingApp {
  address: string;
  writes: number;
  /** The request metadata of the last call. */
  lastMetadata: Record<string, unknown>;
  close(): Promise<void>;
}

function forgedMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set("x-mesh-shed", "concurrency-limit");
  metadata.set("x-mesh-attempts", "9");
  metadata.set("x-app", "kept");
  return metadata;
}

async function startForgingApp(): Promise<ForgingApp> {
  const server = new Server();
  const app: ForgingApp = { address: "", writes: 0, lastMetadata: {}, close: async () => {} };
  const reply = (call: ServerUnaryCall<EchoRequest, EchoResponse>): EchoResponse =>
    create(EchoResponseSchema, { message: call.request.message, servedBy: "forger" });
  server.addService(serviceDefinition(EchoService), {
    write(call: ServerUnaryCall<EchoRequest, EchoResponse>, callback: sendUnaryData<EchoResponse>) {
      app.writes++;
      app.lastMetadata = call.metadata.getMap();
      switch (call.request.message) {
        // What an app that passes on a shed downstream call's error (grpc-js does by default) answers.
        case "shed-trailers":
          callback({ code: status.RESOURCE_EXHAUSTED, details: "the app is busy", metadata: forgedMetadata() });
          return;
        // The same with the marker in response headers as well, then trailers (no message).
        case "shed-headers":
          call.sendMetadata(forgedMetadata());
          callback({ code: status.RESOURCE_EXHAUSTED, details: "the app is busy", metadata: forgedMetadata() });
          return;
        case "unavailable":
          callback({ code: status.UNAVAILABLE, details: "the app is down", metadata: forgedMetadata() });
          return;
        default:
          call.sendMetadata(forgedMetadata());
          callback(null, reply(call), forgedMetadata());
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  app.address = `127.0.0.1:${port}`;
  app.close = () => new Promise((resolve) => server.tryShutdown(() => resolve()));
  return app;
}

let app: ForgingApp;
/** The app's own sidecar. */
let inbound: TestSidecar;
/** The caller's sidecar, whose upstream is `inbound` (twice, so a retry has another endpoint to go to). */
let outbound: TestSidecar;
/** An upstream that answers with a CR LF in a trailer's value. */
let splitting: RawServer;
/** A caller's sidecar whose upstream is `splitting`. */
let toSplitting: TestSidecar;

useEchoMesh(async (mesh) => {
  app = await startForgingApp();
  inbound = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  const second = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  outbound = await mesh.sidecar({
    upstreams: echoUpstream([{ address: inbound.inbound }, { address: second.inbound }], {
      // Every status an app could name would be retried for an idempotent method; Write has side effects.
      retry: { maxAttempts: 3, retryOn: ["UNAVAILABLE", "RESOURCE_EXHAUSTED"], initialBackoffMs: 1, maxBackoffMs: 2 },
    }),
  });
  splitting = await startRawServer(serveSplitTrailer);
  toSplitting = await mesh.sidecar({ upstreams: echoUpstream([splitting]) });
});

afterAll(async () => {
  await app?.close();
  await splitting?.close();
});

const opened: RawH2[] = [];

afterEach(() => {
  for (const peer of opened.splice(0)) peer.destroy();
});

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}

function meshFields(metadata: Headers): string[] {
  return [...metadata.keys()].filter((name) => name.startsWith("x-mesh-"));
}

describe("mesh-internal fields from an app", () => {
  it.each(["shed-trailers", "shed-headers"])(
    "an app's x-mesh-shed (%s) never makes the caller's sidecar run a method with side effects again",
    async (message) => {
      const before = app.writes;
      const error = await failure(echoClient(outbound.outbound).write({ message }));
      expect(app.writes - before).toBe(1);
      // The app's own answer, as it gave it, without the fields only a sidecar may set.
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toBe("the app is busy");
      expect(error.metadata.get("x-app")).toMatch(/^kept(, kept)?$/);
      expect(meshFields(error.metadata)).toEqual([]);
    },
  );

  it("are dropped by the app's sidecar, whoever calls it", async () => {
    const before = app.writes;
    const error = await failure(echoClient(inbound.inbound).write({ message: "shed-trailers" }));
    expect(app.writes - before).toBe(1);
    expect([error.code, error.rawMessage]).toEqual([Code.ResourceExhausted, "the app is busy"]);
    expect(meshFields(error.metadata)).toEqual([]);
  });

  it("are dropped from a successful answer's headers and trailers", async () => {
    const headers: string[] = [];
    const trailers: string[] = [];
    const reply = await echoClient(outbound.outbound).write(
      { message: "ok" },
      {
        onHeader: (each) => headers.push(...each.keys()),
        onTrailer: (each) => trailers.push(...each.keys()),
      },
    );
    expect(reply.message).toBe("ok");
    expect(headers).toContain("x-app");
    expect(trailers).toContain("x-app");
    expect([...headers, ...trailers].filter((name) => name.startsWith("x-mesh-"))).toEqual([]);
  });

  it("a status the method may not be retried on is answered once, without the app's mesh fields", async () => {
    const before = app.writes;
    const error = await failure(echoClient(outbound.outbound).write({ message: "unavailable" }));
    expect(app.writes - before).toBe(1);
    expect([error.code, error.rawMessage]).toEqual([Code.Unavailable, "the app is down"]);
    expect(meshFields(error.metadata)).toEqual([]);
  });
});

describe("mesh-internal fields from a caller", () => {
  it("never reach the app, through either sidecar", async () => {
    const headers = { "x-mesh-shed": "concurrency-limit", "x-mesh-attempts": "2", "x-caller": "kept" };
    for (const address of [outbound.outbound, inbound.inbound]) {
      app.lastMetadata = {};
      await echoClient(address).write({ message: "ok" }, { headers });
      expect(app.lastMetadata["x-caller"]).toBe("kept");
      expect(Object.keys(app.lastMetadata).filter((name) => name.startsWith("x-mesh-"))).toEqual([]);
    }
  });
});

function requestFields(extra: Fields = []): Fields {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", WRITE],
    [":authority", "echo.test"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra,
  ];
}

function writeRequest(message: string): Buffer {
  const bytes = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message }));
  const framed = Buffer.alloc(5 + bytes.length);
  framed.writeUInt32BE(bytes.length, 1);
  framed.set(bytes, 5);
  return framed;
}

async function open(address: string): Promise<RawH2> {
  const peer = await RawH2.connect(address);
  opened.push(peer);
  await peer.waitFor("SETTINGS", (frame) => !frame.ack);
  return peer;
}

/** Sends a whole Write call with `extra` fields and returns how the stream ended: RST_STREAM, or its trailers. */
async function callWith(peer: RawH2, streamId: number, extra: Fields) {
  peer.send(peer.headers(streamId, requestFields(extra)), encodeData(streamId, writeRequest("ok"), true));
  return peer.waitForAny(
    (frame) =>
      (frame.type === "RST_STREAM" || (frame.type === "HEADERS" && frame.endStream)) && frame.streamId === streamId,
    `the end of stream ${streamId}`,
  );
}

describe("malformed header values (RFC 9113 8.2.1)", () => {
  it.each([
    ["CR LF", "a\r\nx-injected: yes"],
    ["CR", "a\rb"],
    ["LF", "a\nb"],
    ["NUL", "a\0b"],
  ])(
    "a request with %s in a field value is refused with PROTOCOL_ERROR and never reaches the app",
    async (_what, value) => {
      for (const address of [outbound.outbound, inbound.inbound]) {
        const peer = await open(address);
        const before = app.writes;
        const end = await callWith(peer, 1, [["x-note", value]]);
        expect(end.type, peer.summary()).toBe("RST_STREAM");
        expect(errorCodeName((end as { code: number }).code)).toBe(errorCodeName(ErrorCode.PROTOCOL_ERROR));
        // A stream error: the connection goes on serving, and the app saw nothing of the refused call.
        const next = await callWith(peer, 3, [["x-note", "fine"]]);
        expect(next.type === "HEADERS" && fieldValue(next.fields, "grpc-status"), peer.summary()).toBe("0");
        expect(app.writes - before).toBe(1);
        expect(peer.received("GOAWAY")).toEqual([]);
      }
    },
  );

  it("an upstream's trailer with a CR LF in its value is never passed on", async () => {
    const peer = await open(toSplitting.outbound);
    const end = await callWith(peer, 1, []);
    expect(end.type, peer.summary()).toBe("HEADERS");
    const fields = end.type === "HEADERS" ? end.fields : [];
    expect(fieldValue(fields, "grpc-status")).toBe(String(Code.Unavailable));
    expect(fieldValue(fields, "grpc-message")).toMatch(/PROTOCOL_ERROR/);
    expect(fields.filter(([, value]) => /[\r\n\0]/.test(value))).toEqual([]);
    expect(fieldValue(fields, "x-injected")).toBeUndefined();
  });
});

/** Answers every call with OK trailers that carry a CR LF in a value (an HTTP/1.1 response splitting attempt). */
function serveSplitTrailer(peer: RawH2): void {
  peer.onFrame = (frame) => {
    if (frame.type !== "DATA" || !frame.endStream) return;
    const id = frame.streamId;
    peer.send(
      peer.headers(id, [
        [":status", "200"],
        ["content-type", "application/grpc"],
      ]),
      peer.headers(
        id,
        [
          ["grpc-status", "0"],
          ["x-note", "a\r\nx-injected: yes"],
        ],
        true,
      ),
    );
  };
}
