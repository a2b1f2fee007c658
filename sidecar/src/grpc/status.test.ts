import { describe, expect, it } from "vitest";
import { decodeGrpcMessage, encodeGrpcMessage, statusName } from "./status.ts";

describe("grpc-message encoding", () => {
  it("keeps printable ASCII, and percent-encodes %, controls and non-ASCII as UTF-8", () => {
    expect(encodeGrpcMessage("plain text: ok")).toBe("plain text: ok");
    expect(encodeGrpcMessage("100% done")).toBe("100%25 done");
    expect(encodeGrpcMessage("ünï\n")).toBe("%C3%BCn%C3%AF%0A");
  });

  it("round-trips, and keeps malformed escapes as they are", () => {
    for (const text of ["a%b", "日本語 and ascii", "\t tab"])
      expect(decodeGrpcMessage(encodeGrpcMessage(text))).toBe(text);
    expect(decodeGrpcMessage("50%zz off")).toBe("50%zz off");
  });

  it("names codes", () => {
    expect(statusName(14)).toBe("UNAVAILABLE");
    expect(statusName(99)).toBe("CODE_99");
  });
});
