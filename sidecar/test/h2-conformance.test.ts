// Black-box HTTP/2 conformance (RFC 9113) of the sidecar's plaintext (h2c) listener: a raw client writes frames,
// well formed or not, over a TCP socket and checks what comes back. Each case checks the scope of the answer (GOAWAY
// for a connection error, RST_STREAM for a stream error), its error code, and that nothing else is disturbed: after
// a stream error the same connection still completes a call, after a connection error other connections do.
import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type EchoRequest, EchoRequestSchema, EchoResponseSchema } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  encodeData,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  errorCodeName,
  Flag,
  FrameType,
  MAX_WINDOW_SIZE,
  type Settings,
} from "../src/h2/frame/index.ts";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";
import {
  eventually,
  type Fields,
  type Frame,
  fieldValue,
  RawH2,
  type RawServer,
  rawFrame,
  startRawServer,
} from "./raw-h2.ts";

const ECHO_PATH = "/mesh.echo.v1.EchoService/Echo";
/** RFC 9113 6.5.2 and 6.9.2: what holds until a peer's SETTINGS say otherwise. */
const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;

let app: EchoServer;
/** The listener under test: outbound -> inbound sidecar -> echo app "a". */
let outbound: TestSidecar;
/** An outbound sidecar whose only upstream is `stallingUpstream`. */
let stalled: TestSidecar;
let stallingUpstream: RawServer;
/** An outbound sidecar whose upstream endpoints are `goingAwayUpstream` and app "a" itself. */
let goingAway: TestSidecar;
let goingAwayUpstream: RawServer;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  const inbound = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  outbound = await mesh.sidecar({ upstreams: echoUpstream([{ address: inbound.inbound }]) });
  stallingUpstream = await startRawServer(serveStalling, { settings: { initialWindowSize: 0 } });
  stalled = await mesh.sidecar({ upstreams: echoUpstream([stallingUpstream]) });
  goingAwayUpstream = await startRawServer(serveGoingAway);
  goingAway = await mesh.sidecar({
    upstreams: echoUpstream([goingAwayUpstream, app], {
      // The failed attempts below must not trip anything: this is about GOAWAY alone.
      circuitBreaker: { mode: "consecutive", consecutiveFailures: 10_000 },
      outlierDetection: { consecutiveFailures: 10_000 },
    }),
  });
});

afterAll(async () => {
  await stallingUpstream?.close();
  await goingAwayUpstream?.close();
});

const opened: RawH2[] = [];

afterEach(() => {
  for (const peer of opened.splice(0)) peer.destroy();
});

/** A raw connection that has received the sidecar's SETTINGS (and acknowledged them). */
async function open(address = outbound.outbound): Promise<RawH2> {
  const peer = await RawH2.connect(address);
  opened.push(peer);
  await peer.waitFor("SETTINGS", (frame) => !frame.ack);
  return peer;
}

function settingsOf(peer: RawH2): Settings {
  return peer.received("SETTINGS").find((frame) => !frame.ack)?.settings ?? {};
}

function requestFields(extra: Fields = []): Fields {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", ECHO_PATH],
    [":authority", "echo.test"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra,
  ];
}

/** A gRPC length-prefixed message (uncompressed). */
function grpcFrame(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

function echoRequest(request: { message: string; delayMs?: number; payload?: Uint8Array }): Buffer {
  return grpcFrame(toBinary(EchoRequestSchema, create(EchoRequestSchema, request)));
}

/** HEADERS and DATA with END_STREAM: a whole unary Echo call on `streamId`. Send them in this order. */
function echoCall(peer: RawH2, streamId: number, message: string, delayMs = 0): Buffer[] {
  return [...peer.headers(streamId, requestFields()), ...encodeData(streamId, echoRequest({ message, delayMs }), true)];
}

/** The outcome of a call once its trailers (END_STREAM) arrived. */
async function outcome(peer: RawH2, streamId: number) {
  const trailers = await peer.waitFor("HEADERS", (frame) => frame.streamId === streamId && frame.endStream);
  const body = Buffer.concat(peer.received("DATA", streamId).map((frame) => frame.data));
  const reply =
    body.length >= 5 ? fromBinary(EchoResponseSchema, body.subarray(5, 5 + body.readUInt32BE(1))) : undefined;
  return {
    grpcStatus: fieldValue(trailers.fields, "grpc-status"),
    grpcMessage: fieldValue(trailers.fields, "grpc-message"),
    message: reply?.message,
  };
}

/** A whole Echo call on `streamId` of this connection completes: the connection still serves. */
async function echoesOn(peer: RawH2, streamId: number): Promise<void> {
  const message = `on stream ${streamId}`;
  peer.send(echoCall(peer, streamId, message));
  expect(await outcome(peer, streamId)).toMatchObject({ grpcStatus: "0", message });
}

/** Another connection to the same listener completes a call. */
async function otherConnectionsServe(): Promise<void> {
  expect((await echoClient(outbound.outbound).echo({ message: "alive" })).message).toBe("alive");
}

/** Waits for a PING's ACK: every frame the sidecar sent before reading that PING has then arrived. */
async function roundTrip(peer: RawH2): Promise<void> {
  const data = randomBytes(8);
  peer.send(encodePing(data, false));
  await peer.waitFor("PING", (frame) => frame.ack && frame.data.equals(data));
}

function codeName(frame: { code: number }): string {
  return errorCodeName(frame.code);
}

/** A connection error: GOAWAY with `code`, then the sidecar closes the connection (RFC 9113 5.4.1). */
async function expectConnectionError(peer: RawH2, code: number): Promise<void> {
  const goaway = await peer.waitFor("GOAWAY");
  expect(codeName(goaway), peer.summary()).toBe(errorCodeName(code));
  await peer.until(() => (peer.isClosed ? true : undefined), "the connection closing after GOAWAY");
  await otherConnectionsServe();
}

/** A stream error: RST_STREAM with `code` on the stream, no GOAWAY, and the connection goes on serving. */
async function expectStreamError(peer: RawH2, streamId: number, code: number, nextStreamId: number): Promise<void> {
  const reset = await peer.waitForAny(
    (frame) => (frame.type === "RST_STREAM" && frame.streamId === streamId) || frame.type === "GOAWAY",
    `RST_STREAM on stream ${streamId}`,
  );
  expect(reset.type, peer.summary()).toBe("RST_STREAM");
  expect(codeName(reset as { code: number })).toBe(errorCodeName(code));
  await echoesOn(peer, nextStreamId);
  expect(peer.received("GOAWAY")).toEqual([]);
}

/**
 * Where the RFC lets the receiver choose the scope: RST_STREAM on the stream or GOAWAY, with `code` either way, and
 * then whatever that scope requires.
 */
async function expectStreamOrConnectionError(peer: RawH2, streamId: number, code: number, nextStreamId: number) {
  const error = await peer.waitForAny(
    (frame) => (frame.type === "RST_STREAM" && frame.streamId === streamId) || frame.type === "GOAWAY",
    `RST_STREAM on stream ${streamId} or GOAWAY`,
  );
  if (error.type === "GOAWAY") await expectConnectionError(peer, code);
  else await expectStreamError(peer, streamId, code, nextStreamId);
}

/** A header block split across HEADERS and a CONTINUATION, neither with END_HEADERS: the block stays open. */
function unfinishedHeaderBlock(peer: RawH2, streamId: number): Buffer[] {
  const block = peer.block(requestFields());
  const half = block.length >> 1;
  return [
    rawFrame(FrameType.HEADERS, 0, streamId, block.subarray(0, half)),
    rawFrame(FrameType.CONTINUATION, 0, streamId, block.subarray(half, block.length - 1)),
  ];
}

function padded(content: Buffer, padLength: number): Buffer {
  return Buffer.concat([Buffer.from([padLength]), content, Buffer.alloc(padLength)]);
}

describe("HTTP/2 conformance of the outbound listener (RFC 9113)", () => {
  describe("connection basics", () => {
    it("answers a PING with a PING ACK carrying the same opaque data", async () => {
      const peer = await open();
      const data = Buffer.from("8 octets");
      peer.send(encodePing(data, false));
      const ack = await peer.waitFor("PING", (frame) => frame.ack);
      expect(ack.data).toEqual(data);
    });

    it("acknowledges every SETTINGS frame", async () => {
      const peer = await open();
      peer.send(encodeSettings({ maxConcurrentStreams: 100 }), encodeSettings({ initialWindowSize: 1 << 20 }));
      await peer.until(
        () => (peer.received("SETTINGS").filter((frame) => frame.ack).length === 3 ? true : undefined),
        "three SETTINGS ACKs (the preface's SETTINGS and two more)",
      );
      await echoesOn(peer, 1);
    });

    it("ignores frames of unknown types, on the connection and on a stream", async () => {
      const peer = await open();
      peer.send(
        rawFrame(0xfa, 0xff, 0, Buffer.from("an extension frame")),
        peer.headers(1, requestFields()),
        rawFrame(0xfb, 0, 1, Buffer.alloc(32)),
        encodeData(1, echoRequest({ message: "past extensions" }), true),
      );
      expect(await outcome(peer, 1)).toMatchObject({ grpcStatus: "0", message: "past extensions" });
      expect(peer.received("GOAWAY")).toEqual([]);
    });
  });

  describe("frame size (4.2, 6.4)", () => {
    it("takes a HEADERS frame over SETTINGS_MAX_FRAME_SIZE as a connection error FRAME_SIZE_ERROR", async () => {
      const peer = await open();
      const maxFrameSize = settingsOf(peer).maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
      const block = peer.block(requestFields([["x-pad", "p".repeat(maxFrameSize)]]));
      expect(block.length).toBeGreaterThan(maxFrameSize);
      peer.send(rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, block));
      await expectConnectionError(peer, ErrorCode.FRAME_SIZE_ERROR);
    });

    it("takes a DATA frame over SETTINGS_MAX_FRAME_SIZE as FRAME_SIZE_ERROR (of the stream or the connection)", async () => {
      const peer = await open();
      const maxFrameSize = settingsOf(peer).maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
      const body = echoRequest({ message: "too big a frame", payload: new Uint8Array(maxFrameSize) });
      peer.send(peer.headers(1, requestFields()), rawFrame(FrameType.DATA, Flag.END_STREAM, 1, body));
      // 4.2: only frames that can alter the connection's state (header blocks, SETTINGS, stream 0) must be
      // connection errors; an oversized DATA frame may end only its stream.
      await expectStreamOrConnectionError(peer, 1, ErrorCode.FRAME_SIZE_ERROR, 3);
    });

    it("takes a RST_STREAM of 3 octets as a connection error FRAME_SIZE_ERROR", async () => {
      const peer = await open();
      peer.send(
        peer.headers(1, requestFields()),
        rawFrame(FrameType.RST_STREAM, 0, 1, Buffer.from([0, 0, ErrorCode.CANCEL])),
      );
      await expectConnectionError(peer, ErrorCode.FRAME_SIZE_ERROR);
    });
  });

  describe("stream states (5.1, 6.1)", () => {
    it("answers DATA after the caller's END_STREAM (half-closed remote) with RST_STREAM STREAM_CLOSED", async () => {
      const peer = await open();
      // The echo waits 200 ms, so the stream is still half-closed (remote) when the extra DATA arrives.
      peer.send(echoCall(peer, 1, "ended", 200), encodeData(1, echoRequest({ message: "after the end" }), false));
      await expectStreamError(peer, 1, ErrorCode.STREAM_CLOSED, 3);
    });

    it("answers DATA on a stream that completed with STREAM_CLOSED (of the stream or the connection)", async () => {
      const peer = await open();
      await echoesOn(peer, 1);
      peer.send(encodeData(1, echoRequest({ message: "after the answer" }), true));
      // Closed by END_STREAM both ways: 6.1 asks for a stream error, 5.1 allows a connection error.
      await expectStreamOrConnectionError(peer, 1, ErrorCode.STREAM_CLOSED, 3);
    });

    it("answers DATA on a stream the caller reset with STREAM_CLOSED (of the stream or the connection)", async () => {
      const peer = await open();
      peer.send(peer.headers(1, requestFields()), encodeRstStream(1, ErrorCode.CANCEL));
      await roundTrip(peer);
      peer.send(encodeData(1, echoRequest({ message: "after the reset" }), true));
      // The sidecar received the RST_STREAM (it did not send it), so the frames it must ignore are not these.
      await expectStreamOrConnectionError(peer, 1, ErrorCode.STREAM_CLOSED, 3);
    });

    it("takes DATA on an idle stream as a connection error PROTOCOL_ERROR", async () => {
      const peer = await open();
      await echoesOn(peer, 1);
      peer.send(encodeData(5, echoRequest({ message: "never opened" }), true));
      await expectConnectionError(peer, ErrorCode.PROTOCOL_ERROR);
    });

    it("ignores or refuses DATA that races the caller's RST_STREAM, and keeps the connection", async () => {
      const peer = await open();
      const request = echoRequest({ message: "cancelled midway" });
      peer.send(
        peer.headers(1, requestFields()),
        encodeData(1, request.subarray(0, 4), false),
        encodeRstStream(1, ErrorCode.CANCEL),
        encodeData(1, request.subarray(4), false),
      );
      await echoesOn(peer, 3);
      // The late DATA may be dropped or answered with STREAM_CLOSED; a RST_STREAM answering the RST_STREAM is
      // forbidden (5.4.2), and the connection must not go.
      for (const reset of peer.received("RST_STREAM", 1)) expect(codeName(reset)).toBe("STREAM_CLOSED");
      expect(peer.received("GOAWAY")).toEqual([]);
    });
  });

  describe("flow control (5.2, 6.9)", () => {
    // Overrunning the connection window with DATA is not tested: a receiver that hands connection window back as
    // soon as DATA arrives (only stream windows hold a slow stream back) has always granted more than any sender can
    // have sent, so there is nothing to overrun from outside. Stream windows, and WINDOW_UPDATE overflow on both
    // levels, are.
    it("takes DATA past the stream window it advertised as FLOW_CONTROL_ERROR", async () => {
      const peer = await open(stalled.outbound);
      // A first call makes sure the sidecar's upstream connection is up and has the upstream's SETTINGS
      // (INITIAL_WINDOW_SIZE 0): the stalled call below can then pass nothing on, so nothing of its window comes back.
      await echoesOn(peer, 1);
      peer.send(peer.headers(3, requestFields([["x-stall", "yes"]])));
      await eventually(
        () => stallingUpstream.peers.find((upstream) => upstream.received("HEADERS", 3).length > 0),
        "the stalled call reaching the upstream",
      );
      await roundTrip(peer);
      const increments = peer.received("WINDOW_UPDATE", 3).reduce((sum, frame) => sum + frame.increment, 0);
      const window = (settingsOf(peer).initialWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE) + increments;
      const maxFrameSize = settingsOf(peer).maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
      // One octet more than the window: a gRPC message that fills it exactly, and one byte more.
      const body = Buffer.alloc(window + 1);
      body.writeUInt32BE(body.length - 5, 1);
      const frames: Buffer[][] = [];
      for (let offset = 0; offset < body.length; offset += maxFrameSize) {
        frames.push(encodeData(3, body.subarray(offset, offset + maxFrameSize), false));
      }
      peer.send(...frames);
      // 6.9.1 leaves the scope to the receiver when a stream window is overrun.
      await expectStreamOrConnectionError(peer, 3, ErrorCode.FLOW_CONTROL_ERROR, 5);
    });

    it("answers a WINDOW_UPDATE that takes a stream window past 2^31-1 with RST_STREAM FLOW_CONTROL_ERROR", async () => {
      const peer = await open();
      peer.send(peer.headers(1, requestFields()), encodeWindowUpdate(1, MAX_WINDOW_SIZE));
      await expectStreamError(peer, 1, ErrorCode.FLOW_CONTROL_ERROR, 3);
    });

    it("takes a WINDOW_UPDATE that takes the connection window past 2^31-1 as a connection error", async () => {
      const peer = await open();
      peer.send(encodeWindowUpdate(0, MAX_WINDOW_SIZE));
      await expectConnectionError(peer, ErrorCode.FLOW_CONTROL_ERROR);
    });
  });

  describe("floods (10.5)", () => {
    // What the sidecar holds for a flooding connection is bounded by ending it: it answers a few thousand frames,
    // then sends GOAWAY ENHANCE_YOUR_CALM and reads nothing more. That GOAWAY is asserted as the bound.
    it.each([
      ["SETTINGS", encodeSettings({})],
      ["PING", encodePing(Buffer.alloc(8), false)],
    ])("ends a connection flooding %s frames with ENHANCE_YOUR_CALM, and serves the others", async (_, frame) => {
      const peer = await open();
      peer.send(Buffer.concat(Array.from({ length: 50_000 }, () => frame)));
      await expectConnectionError(peer, ErrorCode.ENHANCE_YOUR_CALM);
    });
  });

  describe("header blocks (4.3, 6.2, 6.10)", () => {
    const interruptions: [string, (peer: RawH2) => Buffer | Buffer[]][] = [
      ["DATA on the same stream", () => encodeData(1, echoRequest({ message: "x" }), true)],
      ["HEADERS on another stream", (peer) => peer.headers(3, requestFields(), true)],
      ["a CONTINUATION on another stream", () => rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3)],
      ["a PING", () => encodePing(Buffer.alloc(8), false)],
      ["a frame of an unknown type", () => rawFrame(0xfa, 0, 1, Buffer.alloc(4))],
    ];
    it.each(interruptions)(
      "takes %s inside an open header block as a connection error PROTOCOL_ERROR",
      async (_, next) => {
        const peer = await open();
        peer.send(...unfinishedHeaderBlock(peer, 1), next(peer));
        await expectConnectionError(peer, ErrorCode.PROTOCOL_ERROR);
      },
    );

    it("answers a header list over limits.maxHeaderListBytes with RESOURCE_EXHAUSTED and keeps the connection", async () => {
      const peer = await open();
      const flood: Fields = Array.from({ length: 100 }, (_, i) => [`x-flood-${i}`, "v".repeat(100)]);
      peer.send(peer.headers(1, requestFields(flood)), encodeData(1, echoRequest({ message: "big" }), true));
      const answer = await outcome(peer, 1);
      expect(answer.grpcStatus).toBe("8"); // RESOURCE_EXHAUSTED
      expect(answer.grpcMessage).toMatch(/^request headers of \d+ bytes exceed the limit of 8192 bytes$/);
      await echoesOn(peer, 3);
      expect(peer.received("GOAWAY")).toEqual([]);
    });

    it("ends a connection whose header block runs far past SETTINGS_MAX_HEADER_LIST_SIZE with ENHANCE_YOUR_CALM", async () => {
      const peer = await open();
      const fields: Fields = Array.from({ length: 1000 }, (_, i) => [`x-flood-${i}`, "v".repeat(100)]);
      const block = peer.block(requestFields(fields));
      expect(block.length).toBeGreaterThan(100 * 1024);
      const listSize = fields.reduce((sum, [name, value]) => sum + name.length + value.length + 32, 0);
      expect(listSize).toBeGreaterThan(settingsOf(peer).maxHeaderListSize ?? 0);
      peer.send(encodeHeaders(1, block, { endStream: true })); // HEADERS and CONTINUATIONs
      await expectConnectionError(peer, ErrorCode.ENHANCE_YOUR_CALM);
    });
  });

  describe("DATA and padding (6.1, 6.2)", () => {
    it("completes a call whose request ends with an empty DATA frame carrying END_STREAM", async () => {
      const peer = await open();
      peer.send(
        peer.headers(1, requestFields()),
        encodeData(1, echoRequest({ message: "ended apart" }), false),
        encodeData(1, Buffer.alloc(0), true),
      );
      expect(await outcome(peer, 1)).toMatchObject({ grpcStatus: "0", message: "ended apart" });
    });

    it("reads padded HEADERS and padded DATA", async () => {
      const peer = await open();
      const block = peer.block(requestFields());
      peer.send(
        rawFrame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS, 1, padded(block, 200)),
        rawFrame(FrameType.DATA, Flag.PADDED, 1, padded(echoRequest({ message: "padded" }), 255)),
        rawFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, padded(Buffer.alloc(0), 7)),
      );
      expect(await outcome(peer, 1)).toMatchObject({ grpcStatus: "0", message: "padded" });
    });

    it("takes DATA whose padding is as long as its payload as a connection error PROTOCOL_ERROR", async () => {
      const peer = await open();
      const payload = Buffer.from([6, 1, 2, 3, 4, 5]); // Pad Length 6 in a 6-octet payload
      peer.send(peer.headers(1, requestFields()), rawFrame(FrameType.DATA, Flag.PADDED, 1, payload));
      await expectConnectionError(peer, ErrorCode.PROTOCOL_ERROR);
    });

    it("takes HEADERS whose padding exceeds its payload as a connection error PROTOCOL_ERROR", async () => {
      const peer = await open();
      const block = peer.block(requestFields());
      const payload = Buffer.concat([Buffer.from([255]), block]);
      peer.send(rawFrame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS | Flag.END_STREAM, 1, payload));
      await expectConnectionError(peer, ErrorCode.PROTOCOL_ERROR);
    });
  });

  describe("GOAWAY (6.8)", () => {
    it("completes the call in flight after the caller's GOAWAY", async () => {
      const peer = await open();
      // A client's last stream id names the server's streams it may still act on: none (0). Its own stream 1,
      // still in flight, is not affected.
      peer.send(echoCall(peer, 1, "in flight", 100), encodeGoAway(0, ErrorCode.NO_ERROR));
      expect(await outcome(peer, 1)).toMatchObject({ grpcStatus: "0", message: "in flight" });
    });

    it("sends elsewhere the calls an upstream's GOAWAY left unprocessed, even calls that are not idempotent", async () => {
      const before = app.received.get("Write") ?? 0;
      const client = echoClient(goingAway.outbound);
      const messages = Array.from({ length: 20 }, (_, i) => `write ${i}`);
      // All in flight at once (the app holds its calls 300 ms), so the balancer puts several on the raw upstream,
      // whose first connection answers stream 1 and sends GOAWAY(last 1) once streams 1, 3 and 5 are in.
      const replies = await Promise.all(
        messages.map((message) => client.write({ message, delayMs: 300 }, { timeoutMs: 2500 })),
      );
      expect(replies.map((reply) => reply.message)).toEqual(messages);
      const processed = replies.find((reply) => reply.message === answeredBeforeGoAway);
      expect(processed?.servedBy).toBe("raw");
      expect(unprocessed.length).toBeGreaterThanOrEqual(2);
      for (const message of unprocessed) {
        expect(replies.find((reply) => reply.message === message)?.servedBy, message).toBe("a");
      }
      // Write is not idempotent: each call reached the app at most once, so the app saw exactly those it answered.
      const servedByApp = replies.filter((reply) => reply.servedBy === "a").length;
      expect((app.received.get("Write") ?? 0) - before).toBe(servedByApp);
    });
  });
});

// ---- raw upstreams -------------------------------------------------------------------------------------------------

/** The request a raw upstream received on a stream. */
function requestOn(peer: RawH2, streamId: number): EchoRequest {
  const body = Buffer.concat(peer.received("DATA", streamId).map((frame) => frame.data));
  return fromBinary(EchoRequestSchema, body.subarray(5));
}

/** A raw upstream's answer: the request's message echoed, served by "raw". */
function respondEcho(peer: RawH2, streamId: number): void {
  const reply = toBinary(
    EchoResponseSchema,
    create(EchoResponseSchema, { message: requestOn(peer, streamId).message, servedBy: "raw" }),
  );
  const headers = peer.headers(streamId, [
    [":status", "200"],
    ["content-type", "application/grpc"],
  ]);
  const trailers = peer.headers(streamId, [["grpc-status", "0"]], true);
  peer.send(headers, encodeData(streamId, grpcFrame(reply), false), trailers);
}

/**
 * An upstream that starts every stream with a send window of 0 (SETTINGS_INITIAL_WINDOW_SIZE 0) and opens it only
 * for calls without `x-stall`: a stalled call's request cannot go anywhere, so the sidecar must hold it.
 */
function serveStalling(peer: RawH2): void {
  peer.onFrame = (frame: Frame) => {
    if (frame.type === "HEADERS" && fieldValue(frame.fields, "x-stall") === undefined) {
      peer.send(encodeWindowUpdate(frame.streamId, DEFAULT_INITIAL_WINDOW_SIZE));
    }
    if (frame.type !== "DATA") return;
    if (frame.length > 0) peer.send(encodeWindowUpdate(0, frame.length));
    if (frame.endStream) respondEcho(peer, frame.streamId);
  };
}

/** The message of the call the GOAWAY upstream answered (stream 1 of its first connection). */
let answeredBeforeGoAway: string | undefined;
/** The messages of the calls it left unprocessed (streams above 1 of its first connection). */
const unprocessed: string[] = [];

/**
 * On its first connection: once the requests of streams 1, 3 and 5 are all in, GOAWAY(last stream id 1), then the
 * answer to stream 1; streams above 1 are never answered. Later connections answer every call.
 */
function serveGoingAway(peer: RawH2): void {
  const first = goingAwayUpstream.peers.length === 1;
  const complete = new Set<number>();
  peer.onFrame = (frame: Frame) => {
    if (frame.type !== "DATA" || !frame.endStream) return;
    if (!first) {
      respondEcho(peer, frame.streamId);
      return;
    }
    complete.add(frame.streamId);
    if (complete.size < 3 || ![1, 3, 5].every((id) => complete.has(id)) || answeredBeforeGoAway !== undefined) return;
    peer.send(encodeGoAway(1, ErrorCode.NO_ERROR));
    answeredBeforeGoAway = requestOn(peer, 1).message;
    for (const id of complete) if (id > 1) unprocessed.push(requestOn(peer, id).message);
    respondEcho(peer, 1);
  };
}
