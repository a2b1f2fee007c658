import { describe, expect, it } from "vitest";
import { GrpcFrameMeter } from "./message-framing.ts";

function frame(length: number, flags = 0) {
  const bytes = Buffer.alloc(5 + length);
  bytes[0] = flags;
  bytes.writeUInt32BE(length, 1);
  return bytes;
}

describe("GrpcFrameMeter", () => {
  it("follows messages split anywhere across chunks, headers included", () => {
    const stream = Buffer.concat([frame(3), frame(0), frame(10)]);
    for (let cut = 1; cut < stream.length; cut++) {
      const meter = new GrpcFrameMeter(100, "request");
      expect(meter.push(stream.subarray(0, cut))).toBeUndefined();
      expect(meter.push(stream.subarray(cut))).toBeUndefined();
      expect(meter.endViolation()).toBeUndefined();
      expect(meter.messages).toBe(3);
    }
  });

  it("rejects a message over the limit as soon as its header is seen", () => {
    const meter = new GrpcFrameMeter(100, "request");
    expect(meter.push(frame(101).subarray(0, 5))).toEqual({
      code: 8,
      message: "request message of 101 bytes exceeds the limit of 100 bytes",
    });
  });

  it("reports a stream that ends inside a message, and malformed flags", () => {
    const truncated = new GrpcFrameMeter(100, "request");
    truncated.push(frame(10).subarray(0, 8));
    expect(truncated.endViolation()?.message).toBe("request ended inside a message (truncated)");
    expect(new GrpcFrameMeter(100, "request").push(frame(1, 7))?.code).toBe(13);
  });
});
