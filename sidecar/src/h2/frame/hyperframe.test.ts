import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { FrameDecoder } from "./decoder.ts";
import { recordingHandler } from "./recording-handler.test-support.ts";
import { ErrorCode } from "./types.ts";

// An independent encoder: Debian's python3-hyperframe (installed by scripts/setup.mjs) writes the frames.
const PYTHON_FRAMES = `
import sys
from hyperframe.frame import *
frames = []
def add(frame, **attributes):
    for name, value in attributes.items():
        setattr(frame, name, value)
    frames.append(frame)
add(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1048576, SettingsFrame.MAX_FRAME_SIZE: 20000}))
add(HeadersFrame(1, data=b"block", flags=["END_HEADERS", "PADDED", "PRIORITY"]), pad_length=3, depends_on=0, stream_weight=15, exclusive=True)
add(DataFrame(1, data=b"padded body", flags=["PADDED"]), pad_length=10)
add(DataFrame(1, data=b"", flags=["END_STREAM"]))
add(PriorityFrame(3), depends_on=1, stream_weight=200, exclusive=False)
add(HeadersFrame(3, data=b"first-", flags=[]))
add(ContinuationFrame(3, data=b"second", flags=["END_HEADERS"]))
add(PushPromiseFrame(3, data=b"promise", flags=["END_HEADERS", "PADDED"]), promised_stream_id=4, pad_length=2)
add(RstStreamFrame(3), error_code=8)
add(PingFrame(0, opaque_data=b"pingpong", flags=["ACK"]))
add(WindowUpdateFrame(1), window_increment=4096)
add(GoAwayFrame(0, last_stream_id=3, error_code=11, additional_data=b"bye"))
sys.stdout.write(b"".join(frame.serialize() for frame in frames).hex())
`;

describe("decoding frames written by python3-hyperframe", () => {
  it("reads padded, prioritised, continued and control frames", async () => {
    const { stdout } = await promisify(execFile)("/usr/bin/python3", ["-c", PYTHON_FRAMES]);
    const bytes = Buffer.from(stdout, "hex");
    for (const chunkSize of [bytes.length, 7, 1]) {
      const handler = recordingHandler();
      const decoder = new FrameDecoder(handler);
      for (let offset = 0; offset < bytes.length; offset += chunkSize)
        decoder.push(bytes.subarray(offset, offset + chunkSize));
      expect(decoder.idle).toBe(true);
      expect(handler.records).toEqual([
        { kind: "settings", settings: { initialWindowSize: 1_048_576, maxFrameSize: 20_000 } },
        {
          kind: "headers",
          streamId: 1,
          headerBlock: Buffer.from("block"),
          endStream: false,
          priority: { streamDependency: 0, exclusive: true, weight: 16 },
        },
        { kind: "data", streamId: 1, data: Buffer.from("padded body"), endStream: false, flowControlledLength: 22 },
        { kind: "data", streamId: 1, data: Buffer.alloc(0), endStream: true, flowControlledLength: 0 },
        { kind: "priority", streamId: 3, priority: { streamDependency: 1, exclusive: false, weight: 201 } },
        {
          kind: "headers",
          streamId: 3,
          headerBlock: Buffer.from("first-second"),
          endStream: false,
          priority: undefined,
        },
        { kind: "pushPromise", streamId: 3, promisedStreamId: 4, headerBlock: Buffer.from("promise") },
        { kind: "rstStream", streamId: 3, errorCode: ErrorCode.CANCEL },
        { kind: "ping", opaqueData: Buffer.from("pingpong"), ack: true },
        { kind: "windowUpdate", streamId: 1, increment: 4096 },
        { kind: "goAway", lastStreamId: 3, errorCode: ErrorCode.ENHANCE_YOUR_CALM, debugData: Buffer.from("bye") },
      ]);
    }
  });
});
