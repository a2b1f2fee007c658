import { MAX_STREAM_ID } from "./types.ts";

/** Every frame starts with 9 bytes: 24-bit length, 8-bit type, 8-bit flags, reserved bit + 31-bit stream id. */
export const FRAME_HEAD_LENGTH = 9;

/** Writes a frame head at `offset`; the reserved bit is always sent as zero (RFC 9113 section 4.1). */
export function writeFrameHead(
  target: Buffer,
  offset: number,
  payloadLength: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  target.writeUIntBE(payloadLength, offset, 3);
  target[offset + 3] = type;
  target[offset + 4] = flags;
  target.writeUInt32BE(streamId & MAX_STREAM_ID, offset + 5);
}

/** A fresh 9-byte frame head, to send in front of a payload that stays where it is (writev). */
export function frameHead(payloadLength: number, type: number, flags: number, streamId: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEAD_LENGTH);
  writeFrameHead(head, 0, payloadLength, type, flags, streamId);
  return head;
}

export function readPayloadLength(source: Buffer, offset: number): number {
  return source.readUIntBE(offset, 3);
}

/** The stream id with the reserved bit ignored, as the RFC requires of receivers. */
export function readStreamId(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) & MAX_STREAM_ID;
}
