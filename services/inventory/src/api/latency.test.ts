import type { CallContext } from "@mesh/kit";
import { implement } from "@mesh/kit";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { describe, expect, it } from "vitest";
import { withLatency } from "./latency.ts";

const answer = { products: [], nextPageToken: "" };
const service = () =>
  implement(InventoryService, {
    listProducts: () => answer,
    getStock: () => ({ stocks: [] }),
    adjustStock: () => ({}),
    getReservation: () => ({}),
  });
const context = (signal = new AbortController().signal) => ({ signal }) as unknown as CallContext;
const listProducts = (implementation: ReturnType<typeof service>) =>
  implementation.handlers.listProducts as (input: never, context: CallContext) => Promise<unknown>;

describe("withLatency (INVENTORY_LATENCY_MS)", () => {
  it("leaves the service as it is at 0", () => {
    const plain = service();
    expect(withLatency(plain, 0)).toBe(plain);
  });

  it("answers every handler that much later, with the handler's own answer", async () => {
    const slow = withLatency(service(), 80);
    expect(Object.keys(slow.handlers).sort()).toEqual(Object.keys(service().handlers).sort());
    const started = performance.now();
    await expect(listProducts(slow)({} as never, context())).resolves.toBe(answer);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it("stops waiting when the caller gives up", async () => {
    const slow = withLatency(service(), 10_000);
    const started = performance.now();
    await expect(listProducts(slow)({} as never, context(AbortSignal.timeout(20)))).resolves.toBe(answer);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
