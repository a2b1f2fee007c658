import { describe, expect, it } from "vitest";
import { addDifference, emptyWindow, golden, parseRouteCounters, quantile } from "./golden-metrics.ts";

const reading = (ok: number, failed: number, buckets: [string, number][]) =>
  [
    "# HELP mesh_requests_total Calls completed",
    `mesh_requests_total{direction="outbound",upstream="order",method="GetOrder",code="0"} ${ok}`,
    `mesh_requests_total{direction="outbound",upstream="order",method="GetOrder",code="14"} ${failed}`,
    ...buckets.map(
      ([le, count]) =>
        `mesh_request_duration_seconds_bucket{le="${le}",direction="outbound",upstream="order",method="GetOrder"} ${count}`,
    ),
    'mesh_request_duration_seconds_sum{direction="outbound",upstream="order",method="GetOrder"} 1',
  ].join("\n");

describe("golden metrics", () => {
  it("reads a sidecar's per-route counters from its /metrics text", () => {
    const routes = parseRouteCounters(
      reading(3, 1, [
        ["0.005", 2],
        ["0.01", 4],
        ["+Inf", 4],
      ]),
    );
    const route = routes.get("outbound|order|GetOrder");
    expect(route?.byCode).toEqual(
      new Map([
        ["0", 3],
        ["14", 1],
      ]),
    );
    expect(route?.buckets.get(Number.POSITIVE_INFINITY)).toBe(4);
  });

  it("differences two readings into rate, success rate and interpolated percentiles", () => {
    const before = parseRouteCounters(
      reading(10, 0, [
        ["0.005", 10],
        ["0.01", 10],
        ["+Inf", 10],
      ]),
    );
    const after = parseRouteCounters(
      reading(100, 10, [
        ["0.005", 60],
        ["0.01", 110],
        ["+Inf", 110],
      ]),
    );
    const window = emptyWindow();
    addDifference(window, after.get("outbound|order|GetOrder") as never, before.get("outbound|order|GetOrder"));
    const signals = golden(window, 10);
    expect(signals.rps).toBe(10);
    expect(signals.success).toBeCloseTo(0.9);
    // 50 of the 100 calls in the window were under 5 ms, the other 50 between 5 and 10 ms.
    expect(signals.p50).toBeCloseTo(0.005);
    expect(signals.p99).toBeCloseTo(0.0099);
  });

  it("leaves calls the caller cancelled (a lost hedge) out of the success rate, not out of the request rate", () => {
    const counters = parseRouteCounters(
      [
        'mesh_requests_total{direction="inbound",upstream="app",method="GetStock",code="0"} 90',
        'mesh_requests_total{direction="inbound",upstream="app",method="GetStock",code="1"} 5',
        'mesh_requests_total{direction="inbound",upstream="app",method="GetStock",code="14"} 5',
      ].join("\n"),
    );
    const window = emptyWindow();
    addDifference(window, counters.get("inbound|app|GetStock") as never, undefined);
    const signals = golden(window, 10);
    expect(signals.rps).toBe(10);
    expect(signals.success).toBeCloseTo(90 / 95);
  });

  it("has no percentiles without calls, and caps a quantile in the +Inf bucket at the largest bound", () => {
    expect(quantile(0.5, new Map())).toBeUndefined();
    const buckets = new Map([
      [0.005, 0],
      [10, 1],
      [Number.POSITIVE_INFINITY, 4],
    ]);
    expect(quantile(0.99, buckets)).toBe(10);
    expect(golden(emptyWindow(), 5).success).toBeUndefined();
  });
});
