import { describe, expect, it } from "vitest";
import { pickPowerOfTwo } from "./load-balancer.ts";

describe("pickPowerOfTwo", () => {
  it("takes the less busy of two distinct random candidates", () => {
    const endpoints = [{ outstanding: 5 }, { outstanding: 1 }, { outstanding: 9 }];
    const draws = [0.0, 0.0]; // first index 0, second index 1 (skips the first)
    expect(pickPowerOfTwo(endpoints, () => draws.shift() ?? 0)).toBe(endpoints[1]);
  });

  it("spreads load: the busiest endpoint is never picked when two others are idle", () => {
    const endpoints = [{ outstanding: 0 }, { outstanding: 0 }, { outstanding: 50 }];
    for (let i = 0; i < 200; i++) expect(pickPowerOfTwo(endpoints)).not.toBe(endpoints[2]);
  });

  it("handles zero and one candidates", () => {
    expect(pickPowerOfTwo([])).toBeUndefined();
    const only = { outstanding: 3 };
    expect(pickPowerOfTwo([only])).toBe(only);
  });
});
