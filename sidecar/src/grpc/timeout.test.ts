import { describe, expect, it } from "vitest";
import { formatGrpcTimeout, parseGrpcTimeout } from "./timeout.ts";

describe("grpc-timeout", () => {
  it("parses every unit and rejects malformed values", () => {
    expect(parseGrpcTimeout("2H")).toBe(7_200_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("5S")).toBe(5000);
    expect(parseGrpcTimeout("800m")).toBe(800);
    expect(parseGrpcTimeout("1500u")).toBe(1.5);
    expect(parseGrpcTimeout("2000000n")).toBe(2);
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
    for (const bad of ["", "5", "5s", "123456789m", "-1m", "1.5S"]) expect(parseGrpcTimeout(bad)).toBeNull();
  });

  it("formats within 8 digits and rounds up, never to less time than remains", () => {
    expect(formatGrpcTimeout(800)).toBe("800000u");
    expect(formatGrpcTimeout(0.4)).toBe("400u");
    expect(formatGrpcTimeout(250_000)).toBe("250000m");
    expect(formatGrpcTimeout(3_600_000_000)).toBe("3600000S");
    expect(formatGrpcTimeout(-5)).toBe("0u");
    for (const ms of [1, 99_999, 100_000, 12_345_678])
      expect(parseGrpcTimeout(formatGrpcTimeout(ms))).toBeGreaterThanOrEqual(ms);
  });
});
