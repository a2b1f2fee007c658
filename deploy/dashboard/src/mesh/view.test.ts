import { parseRouteCounters } from "@mesh/cli/golden-metrics";
import { describe, expect, it } from "vitest";
import { type FakeRoute, metricsText } from "../testing/fake-sidecar.ts";
import { parseClusters } from "./clusters.ts";
import type { Instance } from "./consul.ts";
import { type InstanceState, meshView, ScrapeHistory } from "./view.ts";

const instance = (id: string, service: string, adminPort?: number): Instance => ({
  id,
  service,
  address: "127.0.0.1",
  port: 15000,
  status: "passing",
  grpcServices: [],
  adminPort,
  meshTls: true,
});

const ROUTES: FakeRoute[] = [
  {
    direction: "outbound",
    upstream: "inventory",
    method: "/shop.inventory.v1.InventoryService/Reserve",
    perScrape: { "0": 18, "14": 2 },
    latency: 0.004,
  },
  {
    direction: "inbound",
    upstream: "order",
    method: "/shop.order.v1.OrderService/PlaceOrder",
    perScrape: { "0": 10 },
    latency: 0.02,
  },
];

describe("mesh view", () => {
  it("computes rate, success and percentiles per edge and service over the window, and marks failing edges", () => {
    const history = new ScrapeHistory(30_000);
    for (let n = 1; n <= 3; n++)
      history.record("order-1", { at: n * 2000, routes: parseRouteCounters(metricsText(ROUTES, n)) });
    history.addRatePoint(6000);
    const states: InstanceState[] = [
      {
        instance: instance("order-1", "order", 15090),
        reachable: true,
        error: undefined,
        upstreams: parseClusters({
          inventory: { breaker: "closed", endpoints: [{ ejected: true }, { ejected: false }] },
          payment: { breaker: "open", endpoints: [] },
        }),
        lastScrapeAt: 6000,
      },
      {
        instance: { ...instance("inventory-1", "inventory", 15091), status: "critical" },
        reachable: false,
        error: "refused",
        upstreams: {},
        lastScrapeAt: undefined,
      },
    ];
    const view = meshView(states, history);
    const reserve = view.edges.find((edge) => edge.to === "inventory");
    // 2 readings apart: 40 calls in 4 s, 36 ok; all in the 5 ms bucket
    expect(reserve).toMatchObject({
      from: "order",
      rps: 10,
      success: 0.9,
      calls: 40,
      errors: 4,
      recentErrors: 2,
      failing: true,
      breaker: "closed",
    });
    expect(reserve?.p99).toBeGreaterThan(2.5);
    expect(reserve?.p99).toBeLessThanOrEqual(5);
    // an open breaker on an upstream never called still shows, failing
    expect(view.edges.find((edge) => edge.to === "payment")).toMatchObject({
      breaker: "open",
      failing: true,
      calls: 0,
      success: null,
    });
    expect(view.services.find((s) => s.name === "order")).toMatchObject({
      rps: 5,
      success: 1,
      instances: 1,
      healthy: 1,
      external: false,
    });
    expect(view.services.find((s) => s.name === "inventory")).toMatchObject({ instances: 1, healthy: 0, calls: 0 });
    expect(view.services.find((s) => s.name === "payment")).toMatchObject({ external: true, instances: 0 });
    expect(view.instances).toEqual([
      expect.objectContaining({
        id: "order-1",
        reachable: true,
        breakers: { inventory: "closed", payment: "open" },
        ejectedEndpoints: 1,
      }),
      expect.objectContaining({ id: "inventory-1", reachable: false, error: "refused", health: "critical" }),
    ]);
    expect(history.rate).toEqual([{ t: 6000, rps: 5, errorRps: 0 }]);
  });

  it("counts a restarted sidecar's counters from zero instead of going negative", () => {
    const history = new ScrapeHistory(30_000);
    history.record("order-1", { at: 1000, routes: parseRouteCounters(metricsText(ROUTES, 50)) });
    history.record("order-1", { at: 3000, routes: parseRouteCounters(metricsText(ROUTES, 1)) });
    const view = meshView(
      [
        {
          instance: instance("order-1", "order", 1),
          reachable: true,
          error: undefined,
          upstreams: {},
          lastScrapeAt: 3000,
        },
      ],
      history,
    );
    expect(view.edges[0]).toMatchObject({ calls: 20, rps: 10 });
  });

  it("keeps only the window (and one reading before it)", () => {
    const history = new ScrapeHistory(5000);
    for (let n = 0; n <= 10; n++) history.record("a", { at: n * 1000, routes: new Map() });
    expect(history.of("a").map((r) => r.at)).toEqual([5000, 6000, 7000, 8000, 9000, 10000]);
    history.retain(new Set());
    expect(history.of("a")).toEqual([]);
  });

  it("reads what it can of a /clusters answer", () => {
    expect(parseClusters({ a: { breaker: "half_open" }, b: { breaker: "weird" }, c: null })).toEqual({
      a: { breaker: "half_open", endpoints: 0, ejected: 0 },
      b: { breaker: "unknown", endpoints: 0, ejected: 0 },
    });
    expect(parseClusters("nope")).toEqual({});
  });
});
