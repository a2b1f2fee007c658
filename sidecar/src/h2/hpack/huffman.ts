import type { ByteWriter } from "./byte-writer.ts";
import { HpackError } from "./errors.ts";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman-table.ts";

// Decoding is a table-driven state machine that consumes 4 bits at a time (as nghttp2 does). The states are the 256
// internal nodes of the Huffman tree; for each state and nibble a precomputed entry gives the next state, the symbol
// emitted on the way (at most one: every code is at least 5 bits long) and whether the walk decoded EOS. A string
// ends well when the final state is reached by at most 7 one-bits from the root (RFC 7541 5.2 padding).

const EOS = 256;
const FLAG_EMIT = 1 << 8;
const FLAG_FAIL = 1 << 9;
const STATE_SHIFT = 16;

/** transitions[state * 16 + nibble] = nextState << 16 | flags | symbol. */
const transitions = new Uint32Array(256 * 16);
/** Per state: 1 when it is a valid place to end (padding of at most 7 one-bits), 2 when deeper than 7 bits. */
const endKind = new Uint8Array(256);

function buildDecoder(): void {
  // Tree as arrays: child[node * 2 + bit] is an internal node id (>= 0) or -(symbol + 1) for a leaf.
  const child = new Int32Array(256 * 2).fill(0x7fffffff);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym] ?? 0;
    const len = HUFFMAN_LENGTHS[sym] ?? 0;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        child[slot] = -(sym + 1);
      } else {
        if (child[slot] === 0x7fffffff) {
          const next = nodes++;
          child[slot] = next;
          depth[next] = (depth[node] ?? 0) + 1;
          allOnes[next] = allOnes[node] === 1 && bit === 1 ? 1 : 0;
        }
        node = child[slot] ?? 0;
      }
    }
  }
  if (nodes !== 256) throw new Error(`HPACK Huffman table: expected 256 internal nodes, built ${nodes}`);
  for (let state = 0; state < 256; state++) {
    endKind[state] = (depth[state] ?? 0) > 7 ? 2 : allOnes[state] === 1 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let flags = 0;
      for (let i = 3; i >= 0; i--) {
        const next = child[node * 2 + ((nibble >>> i) & 1)] ?? 0;
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === EOS) {
          flags = FLAG_FAIL;
          break;
        }
        flags = FLAG_EMIT | sym;
        node = 0;
      }
      transitions[state * 16 + nibble] = (node << STATE_SHIFT) | flags;
    }
  }
}
buildDecoder();

/**
 * Decodes `src[start, end)` into `dst` (which must hold at least `(end - start) * 8 / 5` bytes) and returns the
 * number of bytes written. Throws HpackError on EOS or bad padding.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = src[i] ?? 0;
    let t = transitions[(state << 4) | (b >>> 4)] ?? 0;
    if (t & FLAG_FAIL) throw new HpackError("invalid Huffman code: the string contains EOS");
    if (t & FLAG_EMIT) dst[n++] = t & 0xff;
    state = t >>> STATE_SHIFT;
    t = transitions[(state << 4) | (b & 0x0f)] ?? 0;
    if (t & FLAG_FAIL) throw new HpackError("invalid Huffman code: the string contains EOS");
    if (t & FLAG_EMIT) dst[n++] = t & 0xff;
    state = t >>> STATE_SHIFT;
  }
  const kind = endKind[state];
  if (kind === 2) throw new HpackError("invalid Huffman code: padding longer than 7 bits");
  if (kind !== 1) throw new HpackError("invalid Huffman code: padding is not all ones");
  return n;
}

/** Length in bytes of the Huffman encoding of a byte string (latin1: one char per octet). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff] ?? 0;
  return (bits + 7) >>> 3;
}

/** Powers of two by table: `2 ** n` with a variable n is a call to pow() on every symbol. */
const POW2 = Float64Array.from({ length: 41 }, (_, n) => 2 ** n);

/** Appends the Huffman encoding of `s` (whose length `huffmanEncodedLength` gave) to `out`. */
export function huffmanEncode(out: ByteWriter, s: string, encodedLength: number): void {
  out.reserve(encodedLength);
  const buf = out.buf;
  let pos = out.length;
  let acc = 0; // pending bits, at most 7 + 30 < 53 so a float holds them exactly
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = HUFFMAN_LENGTHS[sym] ?? 0;
    acc = acc * (POW2[len] as number) + (HUFFMAN_CODES[sym] ?? 0);
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const scale = POW2[bits] as number;
      const hi = Math.floor(acc / scale);
      buf[pos++] = hi;
      acc -= hi * scale;
    }
  }
  if (bits > 0) buf[pos++] = ((acc << (8 - bits)) | (0xff >>> bits)) & 0xff;
  out.length = pos;
}
