import { describe, expect, it } from "vitest";
import { HeaderList } from "../hpack/index.ts";
import { type BlockKind, malformedReason } from "./header-rules.ts";

const REQUEST: [string, string][] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/mesh.echo.v1.EchoService/Echo"],
  [":authority", "echo"],
  ["content-type", "application/grpc"],
];
const RESPONSE: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];
const TRAILERS: [string, string][] = [["grpc-status", "0"]];
const BLOCKS: Record<BlockKind, [string, string][]> = { request: REQUEST, response: RESPONSE, trailers: TRAILERS };

function block(kind: BlockKind, extra: [string, string][]): HeaderList {
  const list = new HeaderList();
  for (const [name, value] of [...BLOCKS[kind], ...extra]) list.push(name, value);
  return list;
}

describe("malformedReason (RFC 9113 8.2.1)", () => {
  it.each(["request", "response", "trailers"] as const)("takes a well-formed %s block as it is", (kind) => {
    expect(malformedReason(block(kind, [["x-note", "a value: with spaces\tand tabs"]]), kind)).toBeUndefined();
  });

  it.each([
    ["CR", "a\rb"],
    ["LF", "a\nb"],
    ["CR LF", "a\r\nx-injected: yes"],
    ["NUL", "a\0b"],
    ["a trailing LF", "a\n"],
  ])("refuses a field value with %s, in every kind of block", (_what, value) => {
    for (const kind of ["request", "response", "trailers"] as const) {
      expect(malformedReason(block(kind, [["x-note", value]]), kind)).toBe(
        "field x-note has a NUL, LF or CR in its value",
      );
    }
  });

  it("refuses a pseudo-header value with CR, LF or NUL", () => {
    const list = new HeaderList();
    for (const [name, value] of REQUEST) list.push(name, name === ":path" ? `${value}\r\nx: y` : value);
    expect(malformedReason(list, "request")).toBe("field :path has a NUL, LF or CR in its value");
  });

  it.each([
    ["x-Note", "field name x-Note is not lowercase"],
    ["x note", "field name x note has the character 0x20"],
    ["x\rnote", "field name x\\rnote has the character 0x0d"],
    ["x\0note", "field name x\\u0000note has the character 0x00"],
    ["x:note", "field name x:note has the character 0x3a"],
    ["x-n\u00e9", "field name x-n\u00e9 has the character 0xe9"],
  ])("refuses the field name %j", (name, reason) => {
    expect(malformedReason(block("trailers", [[name, "v"]]), "trailers")).toBe(reason);
  });
});
