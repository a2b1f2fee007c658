import { describe, expect, it } from "vitest";
import { Decoder } from "./decoder.ts";
import { HpackError } from "./errors.ts";
import { HeaderList } from "./header-list.ts";
import { EXAMPLE_SEQUENCES } from "./rfc7541-examples.ts";

function table(decoder: Decoder): [string, string][] {
  const entries: [string, string][] = [];
  for (let i = 0; i < decoder.tableLength; i++) entries.push(decoder.tableEntry(i));
  return entries;
}

function decodeHex(decoder: Decoder, hex: string, list = new HeaderList()): HeaderList {
  expect(decoder.decode(Buffer.from(hex.replace(/\s+/g, ""), "hex"), list)).toBe("ok");
  return list;
}

describe("HPACK decoder: RFC 7541 C.2 header field representations", () => {
  it("C.2.1 literal with indexing", () => {
    const decoder = new Decoder();
    const list = decodeHex(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    expect(list.toArray()).toEqual([["custom-key", "custom-header"]]);
    expect(table(decoder)).toEqual([["custom-key", "custom-header"]]);
    expect(decoder.tableSize).toBe(55);
  });

  it("C.2.2 literal without indexing", () => {
    const decoder = new Decoder();
    const list = decodeHex(decoder, "040c 2f73 616d 706c 652f 7061 7468");
    expect(list.toArray()).toEqual([[":path", "/sample/path"]]);
    expect(list.isNeverIndexed(0)).toBe(false);
    expect(decoder.tableLength).toBe(0);
  });

  it("C.2.3 literal never indexed, keeping the flag", () => {
    const decoder = new Decoder();
    const list = decodeHex(decoder, "1008 7061 7373 776f 7264 0673 6563 7265 74");
    expect(list.toArray()).toEqual([["password", "secret"]]);
    expect(list.isNeverIndexed(0)).toBe(true);
    expect(decoder.tableLength).toBe(0);
  });

  it("C.2.4 indexed header field", () => {
    const decoder = new Decoder();
    expect(decodeHex(decoder, "82").toArray()).toEqual([[":method", "GET"]]);
    expect(decoder.tableLength).toBe(0);
  });
});

describe("HPACK decoder: RFC 7541 C.3 to C.6", () => {
  for (const seq of EXAMPLE_SEQUENCES) {
    it(`${seq.section}: fields and dynamic table after each block`, () => {
      const decoder = new Decoder({ maxTableSize: seq.maxTableSize });
      const list = new HeaderList(); // reused across blocks
      for (const block of seq.blocks) {
        decodeHex(decoder, block.hex, list);
        expect(list.toArray()).toEqual(block.fields);
        expect(table(decoder)).toEqual(block.table);
        expect(decoder.tableSize).toBe(block.size);
      }
    });
  }
});

describe("HPACK decoder: dynamic table size updates", () => {
  it("applies updates at the start of a block, evicting entries", () => {
    const decoder = new Decoder();
    decodeHex(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    // 0x3f 0xe1 0x1f = update to 4096; then two updates: 0 (evicts all) and 100.
    decodeHex(decoder, "20 3f45 82");
    expect(decoder.tableLength).toBe(0);
    expect(decoder.tableMaxSize).toBe(100);
  });

  it("rejects an update after the first field", () => {
    expect(() => decodeHex(new Decoder(), "82 20")).toThrow(/size update after the first header field/);
  });

  it("rejects an update above SETTINGS_HEADER_TABLE_SIZE", () => {
    expect(() => decodeHex(new Decoder(), "3fe21f")).toThrow(
      /size update to 4097 exceeds SETTINGS_HEADER_TABLE_SIZE 4096/,
    );
    expect(() => decodeHex(new Decoder({ maxTableSize: 100 }), "3f46")).toThrow(/exceeds/);
  });

  it("requires an update after our limit went below the table's size", () => {
    const decoder = new Decoder();
    decoder.setMaxTableSize(1000);
    expect(() => decodeHex(decoder, "82")).toThrow(/expected a dynamic table size update to at most 1000/);
    const again = new Decoder();
    again.setMaxTableSize(1000);
    decodeHex(again, "3fc907 82"); // update to 1000
    expect(again.tableMaxSize).toBe(1000);
  });
});

describe("HPACK decoder: errors (COMPRESSION_ERROR)", () => {
  const cases: [string, string, RegExp][] = [
    ["index 0", "80", /index 0/],
    ["index past the static table with an empty dynamic table", "be", /index 62 out of range/],
    ["name index out of range", "7f00 0161", /index 63 out of range/],
    ["truncated integer", "ff", /truncated integer/],
    ["integer overflow", "ffffffffff7f", /integer overflow/],
    ["truncated string length", "40", /truncated string/],
    ["string longer than the block", "4005 6162", /truncated string: length 5 but 2 octets left/],
    ["Huffman string containing EOS", "0084 ffffffff 00", /contains EOS/],
    ["Huffman padding longer than 7 bits", "0081 ff 00", /padding longer than 7 bits/],
    ["Huffman padding not all ones", "0081 18 00", /padding is not all ones/],
  ];
  for (const [what, hex, message] of cases) {
    it(what, () => {
      let caught: unknown;
      try {
        new Decoder().decode(Buffer.from(hex.replace(/\s+/g, ""), "hex"), new HeaderList());
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(HpackError);
      expect((caught as HpackError).code).toBe("COMPRESSION_ERROR");
      expect((caught as HpackError).message).toMatch(message);
    });
  }
});

describe("HPACK decoder: header list size limit (RFC 9113 6.5.2)", () => {
  it("reports too large distinctly, after decoding the whole block so the table stays in sync", () => {
    // C.3.1 = 4 fields: 7+3+32 + 7+4+32 + 5+1+32 + 10+15+32 = 180 octets.
    const c31 = "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d";
    const c32 = "8286 84be 5808 6e6f 2d63 6163 6865";
    const exact = new Decoder({ maxHeaderListSize: 180 });
    decodeHex(exact, c31);
    const decoder = new Decoder({ maxHeaderListSize: 179 });
    const list = new HeaderList();
    expect(decoder.decode(Buffer.from(c31.replace(/\s+/g, ""), "hex"), list)).toBe("header-list-too-large");
    expect(list.length).toBe(3);
    expect(table(decoder)).toEqual([[":authority", "www.example.com"]]);
    // The next block's references to the dynamic table still resolve.
    decoder.maxHeaderListSize = 65536;
    expect(decodeHex(decoder, c32).toArray()).toEqual(EXAMPLE_SEQUENCES[0]?.blocks[1]?.fields);
  });

  it("accepts a plain Uint8Array view at an offset", () => {
    const bytes = new Uint8Array([0xff, 0x82, 0x86]);
    const list = new HeaderList();
    expect(new Decoder().decode(bytes.subarray(1), list)).toBe("ok");
    expect(list.toArray()).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
    ]);
  });
});
