import { describe, expect, it } from "vitest";
import { parseConfig } from "./load.ts";
import { resolveMethodPolicy, resolveUpstreamPolicy } from "./policy.ts";

describe("policy resolution", () => {
  const config = parseConfig({
    defaults: { timeoutMs: 1000, retry: { maxAttempts: 2 } },
    upstreams: {
      inventory: {
        services: ["shop.inventory.v1.InventoryService"],
        timeoutMs: 500,
        retry: { retryOn: ["UNAVAILABLE", "RESOURCE_EXHAUSTED"] },
        bulkhead: { maxConcurrent: 7 },
        methods: {
          GetStock: { timeoutMs: 50 },
          "shop.inventory.v1.InventoryService/AdjustStock": { retry: { maxAttempts: 1 } },
        },
      },
    },
  });
  const upstream = config.upstreams.inventory;
  const service = "shop.inventory.v1.InventoryService";

  it("layers defaults < upstream < method", () => {
    expect(resolveMethodPolicy(config.defaults, upstream, service, "GetStock")).toMatchObject({
      timeoutMs: 50,
      retry: { maxAttempts: 2, retryOn: ["UNAVAILABLE", "RESOURCE_EXHAUSTED"], initialBackoffMs: 25 },
    });
    expect(resolveMethodPolicy(config.defaults, upstream, service, "AdjustStock").retry.maxAttempts).toBe(1);
    expect(resolveMethodPolicy(config.defaults, upstream, service, "ListProducts").timeoutMs).toBe(500);
    expect(resolveMethodPolicy(config.defaults, undefined, service, "X").timeoutMs).toBe(1000);
  });

  it("layers defaults < upstream for shared policies", () => {
    expect(resolveUpstreamPolicy(config.defaults, upstream).bulkhead).toEqual({ maxConcurrent: 7, maxQueue: 64 });
    expect(resolveUpstreamPolicy(config.defaults, upstream).circuitBreaker).toMatchObject({
      mode: "sampling",
      scope: "method",
    });
    const shared = parseConfig({ upstreams: { payment: { circuitBreaker: { scope: "upstream" } } } });
    expect(resolveUpstreamPolicy(shared.defaults, shared.upstreams.payment).circuitBreaker.scope).toBe("upstream");
  });
});
