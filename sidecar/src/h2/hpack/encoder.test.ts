import { describe, expect, it } from "vitest";
import { Decoder } from "./decoder.ts";
import { Encoder } from "./encoder.ts";
import { HeaderList } from "./header-list.ts";
import { EXAMPLE_SEQUENCES } from "./rfc7541-examples.ts";

function listOf(fields: [string, string, boolean?][]): HeaderList {
  const list = new HeaderList();
  for (const [name, value, never] of fields) list.push(name, value, never === true);
  return list;
}

function roundTrip(encoder: Encoder, decoder: Decoder, fields: [string, string, boolean?][]): Buffer {
  const block = encoder.encode(listOf(fields));
  const out = new HeaderList();
  expect(decoder.decode(block, out)).toBe("ok");
  expect(out.toArray()).toEqual(fields.map(([n, v]) => [n, v]));
  return block;
}

describe("HPACK encoder: RFC 7541 C.3 to C.6", () => {
  for (const seq of EXAMPLE_SEQUENCES) {
    it(`${seq.section}: same bytes as the RFC where its choices are ours, same table, decodes back`, () => {
      const encoder = new Encoder({ maxTableSize: seq.maxTableSize, huffman: seq.huffman });
      const decoder = new Decoder({ maxTableSize: seq.maxTableSize });
      seq.blocks.forEach((block, i) => {
        const bytes = roundTrip(encoder, decoder, block.fields);
        // C.6.2 Huffman-codes "307" although that is no shorter (3 octets either way); we send it raw.
        const sameChoices = !(seq.section.startsWith("C.6") && i === 1);
        if (sameChoices) expect(bytes.toString("hex")).toBe(block.hex);
        else expect(bytes.toString("hex")).toBe("4803333037c1c0bf");
        const entries: [string, string][] = [];
        for (let p = 0; p < encoder.tableLength; p++) entries.push(encoder.tableEntry(p));
        expect(entries).toEqual(block.table);
        expect(encoder.tableSize).toBe(block.size);
      });
    });
  }
});

describe("HPACK encoder: representations", () => {
  it("uses the static table for exact matches and names", () => {
    const encoder = new Encoder();
    expect(encoder.encode(listOf([[":method", "POST"]])).toString("hex")).toBe("83");
    expect(encoder.encode(listOf([["content-type", "application/grpc"]]))[0]).toBe(0x40 | 31);
  });

  it("reuses dynamic entries, by name and value and by name", () => {
    const encoder = new Encoder();
    const decoder = new Decoder();
    roundTrip(encoder, decoder, [["x-tenant", "acme"]]);
    expect(roundTrip(encoder, decoder, [["x-tenant", "acme"]]).toString("hex")).toBe("be");
    const byName = roundTrip(encoder, decoder, [["x-tenant", "globex"]]);
    expect(byName[0]).toBe(0x40 | 62);
  });

  it("sends authorization, cookie, caller-named and flagged fields as never indexed", () => {
    const encoder = new Encoder({ neverIndex: ["x-api-key"] });
    const decoder = new Decoder();
    const fields: [string, string, boolean?][] = [
      ["authorization", "Bearer abc"],
      ["cookie", "a=b"],
      ["x-api-key", "k"],
      ["x-card", "4111", true],
      [":method", "GET", true],
    ];
    const block = encoder.encode(listOf(fields));
    const out = new HeaderList();
    expect(decoder.decode(block, out)).toBe("ok");
    expect(out.toArray()).toEqual(fields.map(([n, v]) => [n, v]));
    for (let i = 0; i < out.length; i++) expect(out.isNeverIndexed(i)).toBe(true);
    expect(encoder.tableLength).toBe(0);
    expect(decoder.tableLength).toBe(0);
  });

  it("does not index values that rarely repeat or would take most of the table", () => {
    const encoder = new Encoder({ maxTableSize: 256 });
    const decoder = new Decoder({ maxTableSize: 256 });
    roundTrip(encoder, decoder, [
      ["content-length", "123"],
      ["grpc-timeout", "100m"],
      ["x-big", "v".repeat(200)],
    ]);
    expect(encoder.tableLength).toBe(0);
  });

  it("uses Huffman only when it is shorter", () => {
    const encoder = new Encoder({ neverIndex: ["x"] });
    // "www.example.com" is shorter in Huffman; "{}" is not (2 octets raw, 3 Huffman).
    expect(encoder.encode(listOf([["x", "www.example.com"]])).toString("hex")).toBe(
      "10 01 78 8c f1e3c2e5f23a6ba0ab90f4ff".replace(/ /g, ""),
    );
    expect(encoder.encode(listOf([["x", "{}"]])).toString("hex")).toBe("100178027b7d");
  });

  it("emits table size updates when the peer's limit changes (smallest, then final)", () => {
    const encoder = new Encoder();
    const decoder = new Decoder();
    roundTrip(encoder, decoder, [["x-a", "1"]]);
    encoder.setMaxTableSize(0);
    encoder.setMaxTableSize(1000);
    const block = roundTrip(encoder, decoder, [["x-a", "1"]]);
    expect(block.subarray(0, 4).toString("hex")).toBe("203fc907");
    expect(decoder.tableMaxSize).toBe(1000);
    encoder.setMaxTableSize(64);
    decoder.setMaxTableSize(64);
    expect(roundTrip(encoder, decoder, [["x-a", "1"]])[0]).toBe(0x3f);
    // Only the final size when it is the smallest.
    encoder.setMaxTableSize(100);
    encoder.setMaxTableSize(50);
    expect(roundTrip(encoder, decoder, [])).toEqual(Buffer.from([0x3f, 0x13]));
  });

  it("stays in sync with a decoder through many evictions", () => {
    const encoder = new Encoder({ maxTableSize: 200 });
    const decoder = new Decoder({ maxTableSize: 200 });
    for (let i = 0; i < 500; i++) {
      roundTrip(encoder, decoder, [
        [`x-h${i % 7}`, `v${i % 11}`],
        [`x-h${i % 5}`, `v${i % 3}`],
        [":path", `/svc/M${i % 4}`],
      ]);
      expect(decoder.tableSize).toBe(encoder.tableSize);
    }
  });
});
