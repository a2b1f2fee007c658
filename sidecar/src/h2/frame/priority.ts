import { MAX_STREAM_ID } from "./types.ts";

/**
 * The 5-byte priority fields of PRIORITY and of HEADERS with the PRIORITY flag (RFC 9113 sections 5.3.2, 6.3).
 * RFC 9113 deprecates the scheme, but peers still send it and the bytes must be parsed to reach the header block.
 */
export interface Priority {
  streamDependency: number;
  exclusive: boolean;
  /** 1..256: the wire carries weight - 1. */
  weight: number;
}

export const PRIORITY_LENGTH = 5;

export function readPriority(source: Buffer, offset: number): Priority {
  const dependency = source.readUInt32BE(offset);
  return {
    streamDependency: dependency & MAX_STREAM_ID,
    exclusive: dependency > MAX_STREAM_ID,
    weight: (source[offset + 4] ?? 0) + 1,
  };
}

export function writePriority(target: Buffer, offset: number, priority: Priority): void {
  const exclusiveBit = priority.exclusive ? 0x80000000 : 0;
  target.writeUInt32BE((exclusiveBit | (priority.streamDependency & MAX_STREAM_ID)) >>> 0, offset);
  target[offset + 4] = priority.weight - 1;
}
