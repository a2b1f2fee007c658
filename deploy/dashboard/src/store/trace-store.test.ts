import { describe, expect, it } from "vitest";
import { record, spanIdOf, traceIdOf } from "../testing/records.ts";
import { TraceStore } from "./trace-store.ts";

describe("TraceStore", () => {
  it("merges a trace's spans from several batches and processes, a repeated span once", () => {
    const store = new TraceStore();
    const t = traceIdOf(1);
    store.add([record({ traceId: t, spanId: spanIdOf(1), process: { serviceName: "gateway", tags: [] } })]);
    store.add([
      record({ traceId: t, spanId: spanIdOf(2), startUs: 500_000, durationUs: 2_000_000 }),
      record({ traceId: t, spanId: spanIdOf(1) }),
    ]);
    const trace = store.get(t.toUpperCase());
    expect(trace?.spans).toHaveLength(2);
    expect([...(trace?.services ?? [])].sort()).toEqual(["gateway", "order"]);
    expect(trace).toMatchObject({ startUs: 500_000, endUs: 2_500_000 });
    expect(store.services()).toEqual(["gateway", "order"]);
    expect(store.stats()).toMatchObject({ kept: 1, dropped: 0, spans: 2 });
  });

  it("keeps at most maxTraces, dropping the oldest first and counting them, and forgets their index entries", () => {
    const store = new TraceStore({ maxTraces: 3 });
    for (let n = 1; n <= 5; n++) {
      store.add([
        record({ traceId: traceIdOf(n), spanId: spanIdOf(n), startUs: n * 1000 }, { "shop.order_id": `o-${n}` }),
      ]);
    }
    // A late span of a kept trace does not make room by dropping it.
    store.add([record({ traceId: traceIdOf(3), spanId: spanIdOf(99) })]);
    expect(store.stats()).toMatchObject({ kept: 3, capacity: 3, dropped: 2, spans: 4 });
    expect(store.get(traceIdOf(1))).toBeUndefined();
    expect(store.get(traceIdOf(2))).toBeUndefined();
    expect(store.search({ tags: { "shop.order_id": "o-1" }, limit: 20 }).total).toBe(0);
    expect(store.search({ tags: { "shop.order_id": "o-4" }, limit: 20 }).traces.map((t) => t.traceId)).toEqual([
      traceIdOf(4),
    ]);
    // services seen stay listed, as Jaeger's do
    expect(store.services()).toEqual(["order"]);
  });

  it("caps the spans of one trace and counts those it did not keep", () => {
    const store = new TraceStore({ maxSpansPerTrace: 2 });
    const t = traceIdOf(7);
    store.add([1, 2, 3, 4].map((n) => record({ traceId: t, spanId: spanIdOf(n) })));
    expect(store.get(t)?.spans).toHaveLength(2);
    expect(store.get(t)?.droppedSpans).toBe(2);
    expect(store.stats()).toMatchObject({ droppedSpans: 2, maxSpansPerTrace: 2 });
  });

  it("searches by service, indexed and unindexed tags and time, newest first, with a limit", () => {
    const store = new TraceStore();
    store.add([
      record(
        { traceId: traceIdOf(1), spanId: spanIdOf(1), startUs: 1000, process: { serviceName: "gateway", tags: [] } },
        { "shop.order_id": "o-1" },
      ),
      record(
        { traceId: traceIdOf(1), spanId: spanIdOf(2), startUs: 1500 },
        { "shop.order_id": "o-1", "rpc.method": "PlaceOrder" },
      ),
      record(
        { traceId: traceIdOf(2), spanId: spanIdOf(3), startUs: 3000 },
        { "shop.order_id": "o-2", "rpc.method": "GetOrder" },
      ),
      record({
        traceId: traceIdOf(3),
        spanId: spanIdOf(4),
        startUs: 2000,
        process: { serviceName: "payment", tags: [] },
      }),
    ]);
    const ids = (query: Parameters<TraceStore["search"]>[0]) => store.search(query).traces.map((t) => t.traceId);
    expect(ids({ limit: 20 })).toEqual([traceIdOf(2), traceIdOf(3), traceIdOf(1)]);
    expect(ids({ limit: 2 })).toEqual([traceIdOf(2), traceIdOf(3)]);
    expect(store.search({ limit: 2 }).total).toBe(3);
    expect(ids({ service: "order", limit: 20 })).toEqual([traceIdOf(2), traceIdOf(1)]);
    expect(ids({ tags: { "shop.order_id": "o-1" }, limit: 20 })).toEqual([traceIdOf(1)]);
    // tags must match on one span of the service
    expect(ids({ service: "gateway", tags: { "shop.order_id": "o-1" }, limit: 20 })).toEqual([traceIdOf(1)]);
    expect(ids({ service: "gateway", tags: { "rpc.method": "PlaceOrder" }, limit: 20 })).toEqual([]);
    expect(ids({ tags: { "rpc.method": "GetOrder" }, limit: 20 })).toEqual([traceIdOf(2)]);
    expect(ids({ service: "nobody", limit: 20 })).toEqual([]);
    expect(ids({ sinceUs: 1800, limit: 20 })).toEqual([traceIdOf(2), traceIdOf(3)]);
    expect(ids({ untilUs: 1800, limit: 20 })).toEqual([traceIdOf(1)]);
  });

  it("refuses a store that can keep nothing", () => {
    expect(() => new TraceStore({ maxTraces: 0 })).toThrow(/at least one/);
  });
});
