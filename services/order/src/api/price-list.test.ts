import { describe, expect, it } from "vitest";
import { PriceList, type Prices } from "./price-list.ts";

const MUG = { priceMinor: 899, currency: "USD" };
const KETTLE = { priceMinor: 4500, currency: "USD" };

/** A catalogue whose fetches are counted, answering with whatever `next` holds when called. */
function catalogue(first: Prices) {
  const state = { fetches: 0, next: Promise.resolve(first) as Promise<Prices> };
  const fetchPrices = () => {
    state.fetches++;
    return state.next;
  };
  return { state, fetchPrices };
}

describe("PriceList", () => {
  it("fetches once per maxAgeMs, and again once the list is older", async () => {
    const { state, fetchPrices } = catalogue(new Map([["sku-mug", MUG]]));
    const list = new PriceList(fetchPrices, 5000);
    expect((await list.pricesFor(["sku-mug"], 0)).get("sku-mug")).toEqual(MUG);
    await list.pricesFor(["sku-mug"], 4999);
    expect(state.fetches).toBe(1);
    state.next = Promise.resolve(new Map([["sku-mug", { ...MUG, priceMinor: 999 }]]));
    expect((await list.pricesFor(["sku-mug"], 5000)).get("sku-mug")?.priceMinor).toBe(999);
    expect(state.fetches).toBe(2);
  });

  it("shares one fetch among callers that find the list stale at once", async () => {
    const { state, fetchPrices } = catalogue(new Map([["sku-mug", MUG]]));
    const list = new PriceList(fetchPrices, 5000);
    await Promise.all([list.pricesFor(["sku-mug"], 0), list.pricesFor(["sku-mug"], 1), list.pricesFor([], 2)]);
    expect(state.fetches).toBe(1);
  });

  it("fetches afresh for a product the fresh list lacks, and answers without it when the catalogue lacks it too", async () => {
    const { state, fetchPrices } = catalogue(new Map([["sku-mug", MUG]]));
    const list = new PriceList(fetchPrices, 5000);
    await list.pricesFor(["sku-mug"], 0);
    state.next = Promise.resolve(
      new Map([
        ["sku-mug", MUG],
        ["sku-kettle", KETTLE],
      ]),
    );
    expect((await list.pricesFor(["sku-kettle"], 10)).get("sku-kettle")).toEqual(KETTLE);
    expect((await list.pricesFor(["sku-unknown"], 20)).has("sku-unknown")).toBe(false);
    expect(state.fetches).toBe(3);
    // The newest list is kept: the kettle is priced without another fetch.
    await list.pricesFor(["sku-kettle"], 30);
    expect(state.fetches).toBe(3);
  });

  it("keeps no failed fetch: every caller sharing it fails, the next one tries again", async () => {
    const { state, fetchPrices } = catalogue(new Map());
    const list = new PriceList(fetchPrices, 5000);
    state.next = Promise.reject(new Error("inventory is away"));
    const shared = [list.pricesFor(["sku-mug"], 0), list.pricesFor(["sku-mug"], 1)];
    for (const caller of shared) await expect(caller).rejects.toThrow("inventory is away");
    state.next = Promise.resolve(new Map([["sku-mug", MUG]]));
    expect((await list.pricesFor(["sku-mug"], 2)).get("sku-mug")).toEqual(MUG);
    expect(state.fetches).toBe(2);
  });

  it("with maxAgeMs 0, fetches for every order", async () => {
    const { state, fetchPrices } = catalogue(new Map([["sku-mug", MUG]]));
    const list = new PriceList(fetchPrices, 0);
    await list.pricesFor(["sku-mug"], 0);
    await list.pricesFor(["sku-mug"], 0);
    expect(state.fetches).toBe(2);
  });
});
