import { FRAME_HEAD_LENGTH, frameHead, writeFrameHead } from "./head.ts";
import { PRIORITY_LENGTH, type Priority, writePriority } from "./priority.ts";
import { type Settings, settingsPayloadLength, writeSettings } from "./settings.ts";
import { DEFAULT_MAX_FRAME_SIZE, Flag, FrameType, MAX_STREAM_ID } from "./types.ts";

/*
 * Encoders return the Buffers to hand to `socket.writev` (or to write one by one inside `cork`/`uncork`). Frames that
 * carry caller bytes (DATA, header blocks) return a fresh 9-byte head followed by views of the caller's bytes, so the
 * payload is never copied; small control frames are one Buffer.
 */

/** DATA as [head, data]; an empty DATA (typically END_STREAM alone) is just the head. */
export function encodeData(streamId: number, data: Buffer, endStream: boolean): Buffer[] {
  const head = frameHead(data.length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
  return data.length === 0 ? [head] : [head, data];
}

export interface HeadersOptions {
  endStream?: boolean;
  priority?: Priority;
  /** The peer's SETTINGS_MAX_FRAME_SIZE: the block is split into HEADERS + CONTINUATION frames that fit it. */
  maxFrameSize?: number;
}

/** A header block as HEADERS followed by as many CONTINUATION frames as `maxFrameSize` requires. */
export function encodeHeaders(streamId: number, headerBlock: Buffer, options: HeadersOptions = {}): Buffer[] {
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  const { priority } = options;
  const fieldsLength = priority ? PRIORITY_LENGTH : 0;
  const firstFragmentLength = Math.min(headerBlock.length, maxFrameSize - fieldsLength);
  const flags =
    (options.endStream ? Flag.END_STREAM : 0) |
    (priority ? Flag.PRIORITY : 0) |
    (firstFragmentLength === headerBlock.length ? Flag.END_HEADERS : 0);
  const head = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + fieldsLength);
  writeFrameHead(head, 0, fieldsLength + firstFragmentLength, FrameType.HEADERS, flags, streamId);
  if (priority) writePriority(head, FRAME_HEAD_LENGTH, priority);
  return withContinuations([head], streamId, headerBlock, firstFragmentLength, maxFrameSize);
}

/** PUSH_PROMISE (server side) with its block split like HEADERS. */
export function encodePushPromise(
  streamId: number,
  promisedStreamId: number,
  headerBlock: Buffer,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Buffer[] {
  const firstFragmentLength = Math.min(headerBlock.length, maxFrameSize - 4);
  const flags = firstFragmentLength === headerBlock.length ? Flag.END_HEADERS : 0;
  const head = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + 4);
  writeFrameHead(head, 0, 4 + firstFragmentLength, FrameType.PUSH_PROMISE, flags, streamId);
  head.writeUInt32BE(promisedStreamId & MAX_STREAM_ID, FRAME_HEAD_LENGTH);
  return withContinuations([head], streamId, headerBlock, firstFragmentLength, maxFrameSize);
}

function withContinuations(
  buffers: Buffer[],
  streamId: number,
  headerBlock: Buffer,
  firstFragmentLength: number,
  maxFrameSize: number,
): Buffer[] {
  if (firstFragmentLength > 0) buffers.push(headerBlock.subarray(0, firstFragmentLength));
  for (let offset = firstFragmentLength; offset < headerBlock.length; offset += maxFrameSize) {
    const end = Math.min(offset + maxFrameSize, headerBlock.length);
    const flags = end === headerBlock.length ? Flag.END_HEADERS : 0;
    buffers.push(frameHead(end - offset, FrameType.CONTINUATION, flags, streamId), headerBlock.subarray(offset, end));
  }
  return buffers;
}

export function encodePriority(streamId: number, priority: Priority): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + PRIORITY_LENGTH);
  writeFrameHead(frame, 0, PRIORITY_LENGTH, FrameType.PRIORITY, 0, streamId);
  writePriority(frame, FRAME_HEAD_LENGTH, priority);
  return frame;
}

export function encodeRstStream(streamId: number, errorCode: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + 4);
  writeFrameHead(frame, 0, 4, FrameType.RST_STREAM, 0, streamId);
  frame.writeUInt32BE(errorCode, FRAME_HEAD_LENGTH);
  return frame;
}

export function encodeSettings(settings: Settings): Buffer {
  const payloadLength = settingsPayloadLength(settings);
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + payloadLength);
  writeFrameHead(frame, 0, payloadLength, FrameType.SETTINGS, 0, 0);
  writeSettings(frame, FRAME_HEAD_LENGTH, settings);
  return frame;
}

export function encodeSettingsAck(): Buffer {
  return frameHead(0, FrameType.SETTINGS, Flag.ACK, 0);
}

/** PING with its 8 opaque bytes; an ACK echoes the bytes of the PING it answers. */
export function encodePing(opaqueData: Buffer, ack: boolean): Buffer {
  if (opaqueData.length !== 8) throw new RangeError(`PING data must be 8 bytes, got ${opaqueData.length}`);
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + 8);
  writeFrameHead(frame, 0, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  opaqueData.copy(frame, FRAME_HEAD_LENGTH);
  return frame;
}

export function encodeGoAway(lastStreamId: number, errorCode: number, debugData: Buffer = Buffer.alloc(0)): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + 8 + debugData.length);
  writeFrameHead(frame, 0, 8 + debugData.length, FrameType.GOAWAY, 0, 0);
  frame.writeUInt32BE(lastStreamId & MAX_STREAM_ID, FRAME_HEAD_LENGTH);
  frame.writeUInt32BE(errorCode, FRAME_HEAD_LENGTH + 4);
  debugData.copy(frame, FRAME_HEAD_LENGTH + 8);
  return frame;
}

export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  if (increment < 1 || increment > MAX_STREAM_ID)
    throw new RangeError(`window increment ${increment} is outside 1..2^31-1`);
  const frame = Buffer.allocUnsafe(FRAME_HEAD_LENGTH + 4);
  writeFrameHead(frame, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  frame.writeUInt32BE(increment, FRAME_HEAD_LENGTH);
  return frame;
}
