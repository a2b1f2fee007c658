import { describe, expect, it } from "vitest";
import { isLoopback, joinAddress, splitAddress } from "./address.ts";

describe("addresses", () => {
  it("split and join host:port, IPv6 included", () => {
    expect(splitAddress("127.0.0.1:15000")).toEqual({ host: "127.0.0.1", port: 15000 });
    expect(splitAddress("[::1]:15001")).toEqual({ host: "::1", port: 15001 });
    expect(joinAddress("::", 0)).toBe("[::]:0");
    expect(joinAddress("0.0.0.0", 0)).toBe("0.0.0.0:0");
  });

  it("tell loopback from the rest", () => {
    for (const address of ["127.0.0.1:1", "127.3.2.1:1", "[::1]:1", "localhost:1"])
      expect(isLoopback(address)).toBe(true);
    for (const address of ["0.0.0.0:1", "10.0.0.5:1", "[::]:1"]) expect(isLoopback(address)).toBe(false);
  });
});
