import { describe, expect, it } from "vitest";
import { ByteWriter } from "./byte-writer.ts";
import { HpackError } from "./errors.ts";
import { decodeInteger, encodeInteger } from "./integer.ts";

function encode(value: number, prefix: number, flags = 0): string {
  const out = new ByteWriter(1);
  encodeInteger(out, value, prefix, flags);
  return Buffer.from(out.buf.subarray(0, out.length)).toString("hex");
}

function decode(hex: string, prefix: number): [number, number] {
  const cursor = { pos: 0 };
  const value = decodeInteger(Buffer.from(hex, "hex"), cursor, prefix);
  return [value, cursor.pos];
}

describe("HPACK integers (RFC 7541 5.1, C.1)", () => {
  it("C.1.1: 10 with a 5-bit prefix", () => {
    expect(encode(10, 5)).toBe("0a");
    expect(decode("0a", 5)).toEqual([10, 1]);
  });

  it("C.1.2: 1337 with a 5-bit prefix", () => {
    expect(encode(1337, 5)).toBe("1f9a0a");
    expect(decode("1f9a0a", 5)).toEqual([1337, 3]);
  });

  it("C.1.3: 42 at an octet boundary (8-bit prefix)", () => {
    expect(encode(42, 8)).toBe("2a");
    expect(decode("2a", 8)).toEqual([42, 1]);
  });

  it("keeps the flag bits above the prefix and ignores them when decoding", () => {
    expect(encode(3, 4, 0x10)).toBe("13");
    expect(decode("e3", 5)).toEqual([3, 1]);
  });

  it("round-trips values around each prefix's boundary", () => {
    for (let prefix = 1; prefix <= 8; prefix++) {
      for (const value of [0, 1, (1 << prefix) - 2, (1 << prefix) - 1, 1 << prefix, 127, 128, 16383, 2 ** 31 - 1]) {
        expect(decode(encode(value, prefix), prefix)).toEqual([value, encode(value, prefix).length / 2]);
      }
    }
  });

  it("rejects a truncated integer", () => {
    expect(() => decode("", 5)).toThrow(/truncated integer/);
    expect(() => decode("1f", 5)).toThrow(/truncated integer/);
    expect(() => decode("1f9a", 5)).toThrow(HpackError);
  });

  it("rejects an integer overflow", () => {
    expect(() => decode("1fffffffff0f", 5)).toThrow(/integer overflow/);
    expect(() => decode("1f808080808000", 5)).toThrow(/integer overflow/);
  });
});
