export interface UnitPrice {
  priceMinor: number;
  currency: string;
}

export type Prices = ReadonlyMap<string, UnitPrice>;

/**
 * The catalogue's unit prices, fetched from inventory at most once per `maxAgeMs`: pricing an order then costs no
 * call through the mesh while the list is fresh (one call fewer per saga, and orders can still be placed while
 * inventory restarts). Callers that find it stale share one fetch; a failed fetch is not kept, so the next caller
 * tries again.
 * Pure apart from `fetchPrices`; callers pass the time.
 */
export class PriceList {
  private fetched: { prices: Promise<Prices>; at: number } | undefined;

  constructor(
    private readonly fetchPrices: () => Promise<Prices>,
    private readonly maxAgeMs: number,
  ) {}

  /**
   * Prices that cover `productIds` if the catalogue has them: the list fetched within maxAgeMs, or, when that lacks
   * one of them (a product added since) or is older, a list fetched now.
   */
  async pricesFor(productIds: readonly string[], now: number): Promise<Prices> {
    const fresh = this.fetched && now - this.fetched.at < this.maxAgeMs ? this.fetched.prices : undefined;
    if (fresh) {
      const prices = await fresh;
      if (productIds.every((id) => prices.has(id))) return prices;
    }
    return this.fetch(now);
  }

  private fetch(now: number): Promise<Prices> {
    const prices = this.fetchPrices();
    const entry = { prices, at: now };
    this.fetched = entry;
    prices.catch(() => {
      if (this.fetched === entry) this.fetched = undefined;
    });
    return prices;
  }
}
