import { describe, expect, it } from "vitest";
import { FrameDecoder, type FrameDecoderOptions } from "./decoder.ts";
import {
  encodeData,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodePushPromise,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
} from "./encoder.ts";
import { frameHead } from "./head.ts";
import { CONNECTION_PREFACE, checkPreface } from "./preface.ts";
import { type Recorded, recordingHandler } from "./recording-handler.test-support.ts";
import { ErrorCode, Flag, FrameType } from "./types.ts";

function decode(chunks: Buffer[], options?: FrameDecoderOptions): Recorded[] {
  const handler = recordingHandler();
  const decoder = new FrameDecoder(handler, options);
  for (const chunk of chunks) decoder.push(chunk);
  return handler.records;
}

const block = Buffer.from("a header block, opaque to the frame layer");

/** One of every frame type, with END_STREAM, priority, padding-free CONTINUATION splitting and ACKs. */
function everyFrameType(): Buffer {
  return Buffer.concat([
    encodeSettings({ headerTableSize: 0, enablePush: 0, initialWindowSize: 1 << 20, maxFrameSize: 32_768 }),
    encodeSettingsAck(),
    ...encodeHeaders(1, block, { priority: { streamDependency: 3, exclusive: true, weight: 256 } }),
    ...encodeHeaders(3, block, { endStream: true, maxFrameSize: 16 }),
    ...encodeData(1, Buffer.from("hello"), false),
    ...encodeData(1, Buffer.alloc(0), true),
    encodePriority(5, { streamDependency: 1, exclusive: false, weight: 16 }),
    encodeRstStream(3, ErrorCode.CANCEL),
    ...encodePushPromise(1, 2, block, 20),
    encodePing(Buffer.from("01234567"), false),
    encodePing(Buffer.from("76543210"), true),
    encodeWindowUpdate(0, 65_535),
    encodeWindowUpdate(1, 1),
    encodeGoAway(7, ErrorCode.ENHANCE_YOUR_CALM, Buffer.from("slow down")),
  ]);
}

const expectedFrames: Recorded[] = [
  {
    kind: "settings",
    settings: { headerTableSize: 0, enablePush: 0, initialWindowSize: 1 << 20, maxFrameSize: 32_768 },
  },
  { kind: "settingsAck" },
  {
    kind: "headers",
    streamId: 1,
    headerBlock: block,
    endStream: false,
    priority: { streamDependency: 3, exclusive: true, weight: 256 },
  },
  { kind: "headers", streamId: 3, headerBlock: block, endStream: true, priority: undefined },
  { kind: "data", streamId: 1, data: Buffer.from("hello"), endStream: false, flowControlledLength: 5 },
  { kind: "data", streamId: 1, data: Buffer.alloc(0), endStream: true, flowControlledLength: 0 },
  { kind: "priority", streamId: 5, priority: { streamDependency: 1, exclusive: false, weight: 16 } },
  { kind: "rstStream", streamId: 3, errorCode: ErrorCode.CANCEL },
  { kind: "pushPromise", streamId: 1, promisedStreamId: 2, headerBlock: block },
  { kind: "ping", opaqueData: Buffer.from("01234567"), ack: false },
  { kind: "ping", opaqueData: Buffer.from("76543210"), ack: true },
  { kind: "windowUpdate", streamId: 0, increment: 65_535 },
  { kind: "windowUpdate", streamId: 1, increment: 1 },
  { kind: "goAway", lastStreamId: 7, errorCode: ErrorCode.ENHANCE_YOUR_CALM, debugData: Buffer.from("slow down") },
];

describe("frame encoders and decoder", () => {
  it("round-trip every frame type", () => {
    expect(decode([everyFrameType()])).toEqual(expectedFrames);
  });

  it("decode the same frames whatever the chunking: split at every offset, and one byte at a time", () => {
    const stream = everyFrameType();
    for (let split = 0; split <= stream.length; split++) {
      expect(decode([stream.subarray(0, split), stream.subarray(split)])).toEqual(expectedFrames);
    }
    expect(decode([...stream].map((byte) => Buffer.from([byte])))).toEqual(expectedFrames);
  });

  it("split a header block into HEADERS + CONTINUATION frames no larger than the max frame size", () => {
    const buffers = encodeHeaders(9, Buffer.alloc(40, 1), {
      maxFrameSize: 16,
      priority: { streamDependency: 0, exclusive: false, weight: 1 },
    });
    const heads = buffers.filter((_, index) => index % 2 === 0);
    expect(heads.map((head) => [head.readUIntBE(0, 3), head[3], head[4]])).toEqual([
      [16, FrameType.HEADERS, Flag.PRIORITY],
      [16, FrameType.CONTINUATION, 0],
      [13, FrameType.CONTINUATION, Flag.END_HEADERS],
    ]);
  });

  it("write DATA as a head plus the caller's payload, uncopied, with the reserved bit clear", () => {
    const payload = Buffer.from("payload");
    const [head, data] = encodeData(0xffffffff, payload, true);
    expect(data).toBe(payload);
    expect(head).toEqual(Buffer.from([0, 0, 7, FrameType.DATA, Flag.END_STREAM, 0x7f, 0xff, 0xff, 0xff]));
  });

  it("ignore the reserved bit of the stream id on read", () => {
    const head = frameHead(4, FrameType.WINDOW_UPDATE, 0, 5);
    head[5] = (head[5] ?? 0) | 0x80;
    expect(decode([head, Buffer.from([0, 0, 0, 9])])).toEqual([{ kind: "windowUpdate", streamId: 5, increment: 9 }]);
  });

  it("hand out DATA and single-frame header blocks as views of the chunk they arrived in", () => {
    const chunk = Buffer.concat([...encodeHeaders(1, block), ...encodeData(1, Buffer.from("zero copy"), false)]);
    const [headers, data] = decode([chunk]);
    if (headers?.kind !== "headers" || data?.kind !== "data") throw new Error("unexpected frames");
    expect(headers.headerBlock.buffer).toBe(chunk.buffer);
    expect(headers.headerBlock.byteOffset).toBe(chunk.byteOffset + 9);
    expect(data.data.buffer).toBe(chunk.buffer);
    expect(data.data.byteOffset).toBe(chunk.byteOffset + 9 + block.length + 9);
  });

  it("strip padding from DATA, HEADERS and PUSH_PROMISE and count it for flow control", () => {
    const padded = (type: number, flags: number, streamId: number, body: Buffer, padLength: number) =>
      Buffer.concat([
        frameHead(1 + body.length + padLength, type, flags | Flag.PADDED, streamId),
        Buffer.from([padLength]),
        body,
        Buffer.alloc(padLength),
      ]);
    const priorityThenBlock = Buffer.concat([Buffer.from([0, 0, 0, 1, 41]), block]);
    const promiseThenBlock = Buffer.concat([Buffer.from([0, 0, 0, 2]), block]);
    expect(
      decode([
        padded(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("abc"), 4),
        padded(FrameType.DATA, 0, 1, Buffer.alloc(0), 0),
        padded(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY, 3, priorityThenBlock, 7),
        padded(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 3, promiseThenBlock, 2),
      ]),
    ).toEqual([
      { kind: "data", streamId: 1, data: Buffer.from("abc"), endStream: true, flowControlledLength: 8 },
      { kind: "data", streamId: 1, data: Buffer.alloc(0), endStream: false, flowControlledLength: 1 },
      {
        kind: "headers",
        streamId: 3,
        headerBlock: block,
        endStream: false,
        priority: { streamDependency: 1, exclusive: false, weight: 42 },
      },
      { kind: "pushPromise", streamId: 3, promisedStreamId: 2, headerBlock: block },
    ]);
  });

  it("skip frames of unknown type, even between frames split across chunks", () => {
    const unknown = Buffer.concat([frameHead(3, 0xfa, 0xff, 1), Buffer.from("xyz")]);
    const stream = Buffer.concat([unknown, encodePing(Buffer.alloc(8), false), unknown]);
    expect(decode([stream.subarray(0, 5), stream.subarray(5)])).toEqual([
      { kind: "ping", opaqueData: Buffer.alloc(8), ack: false },
    ]);
  });

  it("recognise the connection preface, piece by piece", () => {
    expect(checkPreface(CONNECTION_PREFACE)).toBe("complete");
    expect(checkPreface(Buffer.concat([CONNECTION_PREFACE, encodeSettingsAck()]))).toBe("complete");
    expect(checkPreface(CONNECTION_PREFACE.subarray(0, 10))).toBe("incomplete");
    expect(checkPreface(Buffer.from("GET / HTTP/1.1\r\n"))).toBe("mismatch");
  });
});
