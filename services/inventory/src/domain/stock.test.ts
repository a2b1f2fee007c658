import { describe, expect, it } from "vitest";
import { canReserve, commit, mergeLines, release, reserve, restock, type StockLevels } from "./stock.ts";

describe("stock", () => {
  it("reserves all lines or none, naming the short product", () => {
    const stock = new Map<string, StockLevels>([
      ["a", { available: 5, reserved: 0, sold: 0 }],
      ["b", { available: 1, reserved: 0, sold: 0 }],
    ]);
    expect(canReserve(stock, [{ productId: "a", quantity: 5 }])).toEqual({ ok: true });
    expect(
      canReserve(stock, [
        { productId: "a", quantity: 1 },
        { productId: "b", quantity: 2 },
      ]),
    ).toEqual({
      ok: false,
      reason: "insufficient stock for b: 1 available, 2 requested",
    });
    expect(canReserve(stock, [{ productId: "zz", quantity: 1 }])).toMatchObject({
      ok: false,
      reason: "unknown product zz",
    });
  });

  it("keeps available + reserved + sold constant through reserve, commit, release and restock", () => {
    const levels = { available: 10, reserved: 0, sold: 0 };
    const total = () => levels.available + levels.reserved + levels.sold;
    reserve(levels, 4);
    commit(levels, 3);
    release(levels, 1);
    restock(levels, 2);
    expect(levels).toEqual({ available: 9, reserved: 0, sold: 1 });
    expect(total()).toBe(10);
  });

  it("merges repeated products and sorts lines, so locks are always taken in one order", () => {
    expect(
      mergeLines([
        { productId: "b", quantity: 1 },
        { productId: "a", quantity: 2 },
        { productId: "b", quantity: 3 },
      ]),
    ).toEqual([
      { productId: "a", quantity: 2 },
      { productId: "b", quantity: 4 },
    ]);
  });
});
