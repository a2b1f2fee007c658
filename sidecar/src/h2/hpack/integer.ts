import type { ByteWriter } from "./byte-writer.ts";
import { HpackError } from "./errors.ts";

/** A read position shared by the decoding functions, so they return one number and allocate nothing. */
export interface Cursor {
  pos: number;
}

/** Largest integer we accept: far above any index or string length a header block can carry. */
export const MAX_INTEGER = 0x7fffffff;

/** Decodes an integer with an N-bit prefix (RFC 7541 5.1) starting at `cursor.pos`, and advances the cursor. */
export function decodeInteger(src: Uint8Array, cursor: Cursor, prefixBits: number): number {
  let pos = cursor.pos;
  if (pos >= src.length) throw new HpackError("truncated integer: header block ends before it");
  const max = (1 << prefixBits) - 1;
  let value = (src[pos++] ?? 0) & max;
  if (value < max) {
    cursor.pos = pos;
    return value;
  }
  let shift = 0;
  for (;;) {
    if (pos >= src.length) throw new HpackError("truncated integer: header block ends inside its continuation bytes");
    const b = src[pos++] ?? 0;
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw new HpackError(`integer overflow: value exceeds ${MAX_INTEGER}`);
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new HpackError("integer overflow: more than 5 continuation bytes");
  }
  cursor.pos = pos;
  return value;
}

/** Encodes `value` with an N-bit prefix; `flags` are the bits above the prefix in the first byte. */
export function encodeInteger(out: ByteWriter, value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.byte(flags | value);
    return;
  }
  out.byte(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.byte((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.byte(rest);
}
