import { describe, expect, it } from "vitest";
import { FrameDecoder, type FrameDecoderOptions } from "./decoder.ts";
import { encodeData, encodeHeaders, encodePing, encodeWindowUpdate } from "./encoder.ts";
import { HeaderBlockTooLargeError } from "./errors.ts";
import { frameHead } from "./head.ts";
import { recordingHandler } from "./recording-handler.test-support.ts";
import { type ErrorCode as Code, ErrorCode, Flag, FrameType } from "./types.ts";

function frame(type: number, flags: number, streamId: number, payload: Buffer | number[]): Buffer {
  const bytes = Buffer.from(payload);
  return Buffer.concat([frameHead(bytes.length, type, flags, streamId), bytes]);
}

function setting(id: number, value: number): Buffer {
  const entry = Buffer.alloc(6);
  entry.writeUInt16BE(id, 0);
  entry.writeUInt32BE(value, 2);
  return frame(FrameType.SETTINGS, 0, 0, entry);
}

function decodeErrors(input: Buffer, options?: FrameDecoderOptions) {
  const handler = recordingHandler();
  const decoder = new FrameDecoder(handler, options);
  decoder.push(input);
  return { records: handler.records, failed: decoder.failed };
}

const connectionErrors: Array<[string, Buffer, Code, FrameDecoderOptions?]> = [
  ["a frame over MAX_FRAME_SIZE", frame(FrameType.DATA, 0, 1, Buffer.alloc(16_385)), ErrorCode.FRAME_SIZE_ERROR],
  [
    "a frame over a configured MAX_FRAME_SIZE",
    frame(FrameType.PING, 0, 0, Buffer.alloc(8)),
    ErrorCode.FRAME_SIZE_ERROR,
    { maxFrameSize: 7 },
  ],
  ["PING of 7 bytes", frame(FrameType.PING, 0, 0, Buffer.alloc(7)), ErrorCode.FRAME_SIZE_ERROR],
  ["RST_STREAM of 5 bytes", frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(5)), ErrorCode.FRAME_SIZE_ERROR],
  ["WINDOW_UPDATE of 3 bytes", frame(FrameType.WINDOW_UPDATE, 0, 1, Buffer.alloc(3)), ErrorCode.FRAME_SIZE_ERROR],
  ["SETTINGS of 7 bytes", frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(7)), ErrorCode.FRAME_SIZE_ERROR],
  ["SETTINGS ACK with a payload", frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)), ErrorCode.FRAME_SIZE_ERROR],
  ["GOAWAY of 7 bytes", frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(7)), ErrorCode.FRAME_SIZE_ERROR],
  [
    "HEADERS too short for its priority",
    frame(FrameType.HEADERS, Flag.PRIORITY | Flag.END_HEADERS, 1, [0, 0]),
    ErrorCode.FRAME_SIZE_ERROR,
  ],
  ["SETTINGS on a stream", frame(FrameType.SETTINGS, 0, 1, []), ErrorCode.PROTOCOL_ERROR],
  ["PING on a stream", frame(FrameType.PING, 0, 1, Buffer.alloc(8)), ErrorCode.PROTOCOL_ERROR],
  ["GOAWAY on a stream", frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8)), ErrorCode.PROTOCOL_ERROR],
  ["DATA on stream 0", frame(FrameType.DATA, 0, 0, []), ErrorCode.PROTOCOL_ERROR],
  ["HEADERS on stream 0", frame(FrameType.HEADERS, Flag.END_HEADERS, 0, []), ErrorCode.PROTOCOL_ERROR],
  ["RST_STREAM on stream 0", frame(FrameType.RST_STREAM, 0, 0, Buffer.alloc(4)), ErrorCode.PROTOCOL_ERROR],
  ["PRIORITY on stream 0", frame(FrameType.PRIORITY, 0, 0, Buffer.alloc(5)), ErrorCode.PROTOCOL_ERROR],
  ["CONTINUATION on stream 0", frame(FrameType.CONTINUATION, 0, 0, []), ErrorCode.PROTOCOL_ERROR],
  ["CONTINUATION without HEADERS", frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, []), ErrorCode.PROTOCOL_ERROR],
  ["WINDOW_UPDATE of 0 on the connection", encodeWindowUpdateOfZero(0), ErrorCode.PROTOCOL_ERROR],
  ["DATA padding as long as the payload", frame(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0]), ErrorCode.PROTOCOL_ERROR],
  [
    "HEADERS padding past the priority",
    frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, [1, 0, 0, 0, 0, 0]),
    ErrorCode.PROTOCOL_ERROR,
  ],
  ["ENABLE_PUSH of 2", setting(0x2, 2), ErrorCode.PROTOCOL_ERROR],
  ["INITIAL_WINDOW_SIZE of 2^31", setting(0x4, 2 ** 31), ErrorCode.FLOW_CONTROL_ERROR],
  ["MAX_FRAME_SIZE of 16383", setting(0x5, 16_383), ErrorCode.PROTOCOL_ERROR],
  ["MAX_FRAME_SIZE of 2^24", setting(0x5, 2 ** 24), ErrorCode.PROTOCOL_ERROR],
];

function encodeWindowUpdateOfZero(streamId: number): Buffer {
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, [0x80, 0, 0, 0]); // only the reserved bit set
}

describe("frame decoder errors", () => {
  it.each(connectionErrors)("%s is a connection error", (_, input, code, options) => {
    const { records, failed } = decodeErrors(Buffer.concat([input, encodePing(Buffer.alloc(8), false)]), options);
    expect(records).toEqual([{ kind: "error", error: expect.objectContaining({ scope: "connection", code }) }]);
    expect(failed).toBe(true);
  });

  it("a WINDOW_UPDATE of 0 on a stream is a stream error, and decoding carries on", () => {
    const { records, failed } = decodeErrors(Buffer.concat([encodeWindowUpdateOfZero(3), encodeWindowUpdate(3, 1)]));
    expect(records).toEqual([
      {
        kind: "error",
        error: expect.objectContaining({ scope: "stream", code: ErrorCode.PROTOCOL_ERROR, streamId: 3 }),
      },
      { kind: "windowUpdate", streamId: 3, increment: 1 },
    ]);
    expect(failed).toBe(false);
  });

  it("a PRIORITY of the wrong length is a stream FRAME_SIZE_ERROR, its payload skipped", () => {
    const { records } = decodeErrors(
      Buffer.concat([frame(FrameType.PRIORITY, 0, 5, Buffer.alloc(6)), ...encodeData(5, Buffer.from("x"), true)]),
    );
    expect(records).toEqual([
      {
        kind: "error",
        error: expect.objectContaining({ scope: "stream", code: ErrorCode.FRAME_SIZE_ERROR, streamId: 5 }),
      },
      { kind: "data", streamId: 5, data: Buffer.from("x"), endStream: true, flowControlledLength: 1 },
    ]);
  });

  it("errors say what went wrong in words", () => {
    const { records } = decodeErrors(frame(FrameType.PING, 0, 0, Buffer.alloc(7)));
    expect(records[0]?.kind === "error" && records[0].error.message).toBe(
      "connection error FRAME_SIZE_ERROR on stream 0: frame type 0x6 of 7 bytes, not 8",
    );
  });

  it("any frame but CONTINUATION on the same stream inside a header block is a connection PROTOCOL_ERROR", () => {
    const open = encodeHeaders(1, Buffer.alloc(20), { maxFrameSize: 16 })[0] ?? Buffer.alloc(0);
    const firstFrame = Buffer.concat([open, Buffer.alloc(16)]);
    const interruptions = [
      Buffer.concat(encodeData(1, Buffer.from("x"), false)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, Buffer.alloc(4)),
      encodePing(Buffer.alloc(8), false),
      frame(0xfa, 0, 1, []),
    ];
    for (const interruption of interruptions) {
      const { records, failed } = decodeErrors(Buffer.concat([firstFrame, interruption]));
      expect(records).toEqual([
        { kind: "error", error: expect.objectContaining({ scope: "connection", code: ErrorCode.PROTOCOL_ERROR }) },
      ]);
      expect(failed).toBe(true);
    }
  });

  it("a header block larger than the bound across CONTINUATIONs is reported as HeaderBlockTooLargeError", () => {
    const input = Buffer.concat(encodeHeaders(1, Buffer.alloc(100), { maxFrameSize: 40 }));
    const { records, failed } = decodeErrors(input, { maxHeaderBlockSize: 99 });
    expect(records).toHaveLength(1);
    const error = records[0]?.kind === "error" ? records[0].error : undefined;
    expect(error).toBeInstanceOf(HeaderBlockTooLargeError);
    expect(error).toMatchObject({ scope: "connection", streamId: 1, size: 100, limit: 99 });
    expect(failed).toBe(true);
    expect(decodeErrors(input, { maxHeaderBlockSize: 100 }).records).toEqual([
      expect.objectContaining({ kind: "headers", headerBlock: Buffer.alloc(100) }),
    ]);
  });
});
