import { describe, expect, it } from "vitest";
import { ByteWriter } from "./byte-writer.ts";
import { HpackError } from "./errors.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";

function encodeHex(s: string): string {
  const out = new ByteWriter(1);
  huffmanEncode(out, s, huffmanEncodedLength(s));
  return Buffer.from(out.buf.subarray(0, out.length)).toString("hex");
}

function decodeHex(hex: string): string {
  const src = Buffer.from(hex, "hex");
  const dst = Buffer.alloc(Math.ceil((src.length * 8) / 5));
  return dst.toString("latin1", 0, huffmanDecode(src, 0, src.length, dst));
}

describe("HPACK Huffman code (RFC 7541 5.2, Appendix B)", () => {
  // Strings and codes from Appendix C.4 and C.6.
  const known: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
    ["302", "6402"],
    ["307", "640eff"],
    ["private", "aec3771a4b"],
    ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
    ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
    ["gzip", "9bd9ab"],
  ];

  it("encodes and decodes the Appendix C strings byte for byte", () => {
    for (const [text, hex] of known) {
      expect(encodeHex(text)).toBe(hex);
      expect(huffmanEncodedLength(text)).toBe(hex.length / 2);
      expect(decodeHex(hex)).toBe(text);
    }
  });

  it("round-trips every octet value and the empty string", () => {
    let all = "";
    for (let b = 0; b < 256; b++) all += String.fromCharCode(b);
    expect(decodeHex(encodeHex(all))).toBe(all);
    expect(decodeHex(encodeHex(all.split("").reverse().join("")))).toBe(all.split("").reverse().join(""));
    expect(decodeHex("")).toBe("");
  });

  it("rejects EOS inside the string", () => {
    // EOS is 30 one-bits: 0x3fffffff, followed by two padding ones fills 4 bytes.
    expect(() => decodeHex("ffffffff")).toThrow(/contains EOS/);
    expect(() => decodeHex("1fffffffff")).toThrow(HpackError); // '0' (00000) then EOS
  });

  it("rejects padding longer than 7 bits", () => {
    expect(() => decodeHex("ff")).toThrow(/padding longer than 7 bits/);
    expect(() => decodeHex("f1e3c2e5f23a6ba0ab90f4ffff")).toThrow(/padding longer than 7 bits/);
  });

  it("rejects padding that is not all ones", () => {
    // "a" is 00011 (5 bits); pad with 000 instead of 111.
    expect(() => decodeHex("18")).toThrow(/padding is not all ones/);
    expect(decodeHex("1f")).toBe("a");
  });
});
