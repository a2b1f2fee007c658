import { describe, expect, it } from "vitest";
import { TraceStore } from "../store/trace-store.ts";
import { record, spanIdOf, traceIdOf } from "../testing/records.ts";
import { parseDuration, parseTraceQuery, toJaegerTrace } from "./jaeger.ts";

describe("Jaeger JSON", () => {
  it("renders a trace as Jaeger's query API does", () => {
    const store = new TraceStore();
    const t = traceIdOf(1);
    const sidecar = { serviceName: "order-sidecar", tags: [{ key: "host.name", type: "string" as const, value: "a" }] };
    store.add([
      record({
        traceId: t,
        spanId: spanIdOf(2),
        parentSpanId: spanIdOf(1),
        startUs: 20,
        kind: "client",
        process: sidecar,
        statusCode: 2,
        statusMessage: "UNAVAILABLE",
        events: [
          { timeUs: 25, name: "retry.backoff", attributes: [{ key: "mesh.backoff_ms", type: "int64", value: 5 }] },
        ],
      }),
      record(
        { traceId: t, spanId: spanIdOf(1), startUs: 10, durationUs: 100, scope: { name: "kit", version: "1" } },
        { "shop.order_id": "o-1" },
      ),
      record({ traceId: t, spanId: spanIdOf(3), parentSpanId: spanIdOf(1), startUs: 30, process: { ...sidecar } }),
    ]);
    const trace = toJaegerTrace(store.get(t) ?? ({} as never));
    expect(trace.traceID).toBe(t);
    expect(trace.warnings).toBeNull();
    expect(trace.processes).toEqual({
      p1: { serviceName: "order", tags: [] },
      p2: { serviceName: "order-sidecar", tags: [{ key: "host.name", type: "string", value: "a" }] },
    });
    expect(trace.spans.map((span) => [span.spanID, span.processID])).toEqual([
      [spanIdOf(1), "p1"],
      [spanIdOf(2), "p2"],
      [spanIdOf(3), "p2"],
    ]);
    expect(trace.spans[0]).toEqual({
      traceID: t,
      spanID: spanIdOf(1),
      operationName: "op",
      references: [],
      startTime: 10,
      duration: 100,
      tags: [
        { key: "shop.order_id", type: "string", value: "o-1" },
        { key: "span.kind", type: "string", value: "server" },
        { key: "otel.scope.name", type: "string", value: "kit" },
        { key: "otel.scope.version", type: "string", value: "1" },
      ],
      logs: [],
      processID: "p1",
      warnings: null,
      flags: 1,
    });
    expect(trace.spans[1]?.references).toEqual([{ refType: "CHILD_OF", traceID: t, spanID: spanIdOf(1) }]);
    expect(trace.spans[1]?.tags).toEqual(
      expect.arrayContaining([
        { key: "span.kind", type: "string", value: "client" },
        { key: "error", type: "bool", value: true },
        { key: "otel.status_code", type: "string", value: "ERROR" },
        { key: "otel.status_description", type: "string", value: "UNAVAILABLE" },
      ]),
    );
    expect(trace.spans[1]?.logs).toEqual([
      {
        timestamp: 25,
        fields: [
          { key: "event", type: "string", value: "retry.backoff" },
          { key: "mesh.backoff_ms", type: "int64", value: 5 },
        ],
      },
    ]);
  });

  it("warns about spans the store did not keep", () => {
    const store = new TraceStore({ maxSpansPerTrace: 1 });
    store.add([
      record({ traceId: traceIdOf(1), spanId: spanIdOf(1) }),
      record({ traceId: traceIdOf(1), spanId: spanIdOf(2) }),
    ]);
    expect(toJaegerTrace(store.get(traceIdOf(1)) ?? ({} as never)).warnings?.[0]).toMatch(
      /1 spans of this trace were dropped/,
    );
  });
});

describe("search parameters", () => {
  const now = 10_000_000_000;
  const parse = (query: string) => parseTraceQuery(new URLSearchParams(query), now);

  it("reads service, tags, limit and lookback", () => {
    expect(
      parse(`service=order&tags=${encodeURIComponent('{"shop.order_id":"o-1","n":5}')}&limit=5&lookback=1h`),
    ).toEqual({
      service: "order",
      tags: { "shop.order_id": "o-1", n: "5" },
      limit: 5,
      sinceUs: now - 3_600_000_000,
      untilUs: undefined,
    });
    expect(parse("")).toEqual({
      service: undefined,
      tags: undefined,
      limit: 20,
      sinceUs: undefined,
      untilUs: undefined,
    });
    expect(parse("limit=0&lookback=custom&start=5&end=9")).toMatchObject({ limit: 20, sinceUs: 5, untilUs: 9 });
    expect(parse("limit=100000")).toMatchObject({ limit: 1500 });
  });

  it("names what is wrong", () => {
    expect(parse("tags=nope")).toEqual({ error: "tags is not JSON: nope" });
    expect(parse("tags=[1]")).toEqual({ error: "tags must be a JSON object of tag names to values" });
    expect(parse(`tags=${encodeURIComponent('{"a":{}}')}`)).toEqual({ error: "tag a must have a plain value" });
    expect(parse("limit=-1")).toEqual({ error: "limit must be a non-negative integer: -1" });
    expect(parse("lookback=soon")).toEqual({ error: "lookback is not a duration like 1h or 30m: soon" });
    expect(parse("start=yesterday")).toMatchObject({ error: expect.stringMatching(/start/) });
  });

  it("parses Go-style durations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("1h x")).toBeUndefined();
    expect(parseDuration("")).toBeUndefined();
  });
});
