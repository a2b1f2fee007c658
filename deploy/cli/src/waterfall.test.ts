import { describe, expect, it } from "vitest";
import { TRACE, TRACE_ID } from "./trace-fixture.ts";
import {
  bar,
  duration,
  formatTraces,
  formatWaterfall,
  type JaegerSpan,
  outcome,
  shortName,
  spanTree,
} from "./waterfall.ts";

describe("waterfall", () => {
  it("puts each span under its parent in start order, and a span whose parent is missing at the top, marked", () => {
    const roots = spanTree(TRACE);
    expect(roots.map((root) => [root.span.spanID, root.missingParent])).toEqual([
      ["0000000000000001", undefined],
      ["0000000000000006", "00000000000000ff"],
    ]);
    const call = roots[0]?.children[0];
    expect(call?.service).toBe("gateway-sidecar");
    expect(call?.children.map((child) => child.span.spanID)).toEqual(["0000000000000003", "0000000000000004"]);
  });

  it("draws the trace: indented spans, durations, bars on the trace's axis, statuses, events beneath", () => {
    expect(formatWaterfall(TRACE, { barWidth: 20 })).toBe(
      [
        `trace ${TRACE_ID}  2023-11-14 22:13:20.000 UTC  10.00ms  6 spans  services: gateway, gateway-sidecar, inventory, order`,
        "gateway  GatewayService/PlaceOrder                    10.00ms  |████████████████████|  HTTP 200",
        "  gateway-sidecar  OrderService/PlaceOrder             9.00ms  | ██████████████████ |  OK",
        "      · retry.backoff +2.50ms mesh.retry_reason=UNAVAILABLE mesh.backoff_ms=25",
        "    gateway-sidecar  attempt OrderService/PlaceOrder   2.00ms  |  ████              |  UNAVAILABLE: connection refused",
        "    gateway-sidecar  attempt OrderService/PlaceOrder   4.00ms  |          ████████  |  OK (retry after UNAVAILABLE)",
        "      order  OrderService/PlaceOrder                   3.00ms  |           ██████   |  OK",
        "inventory  process shop.order.created                   500µs  |                   █|  applied",
        "    ! parent span 00000000000000ff is not in this trace",
      ].join("\n"),
    );
  });

  it("survives a reference cycle and a span without process", () => {
    const [a, b] = [TRACE.spans[1], TRACE.spans[2]].map((span) => ({ ...span })) as [never, never];
    const cyclic = {
      traceID: TRACE_ID,
      spans: [
        { ...(a as object), references: [{ refType: "CHILD_OF", traceID: TRACE_ID, spanID: "0000000000000002" }] },
        b,
      ],
      processes: {},
    } as never;
    const roots = spanTree(cyclic);
    expect(roots).toHaveLength(1);
    expect(roots[0]?.service).toBe("?");
    expect(formatWaterfall(cyclic).split("\n")).toHaveLength(4); // header, two spans, one event
  });

  it("prints several traces oldest first", () => {
    const later = {
      ...TRACE,
      traceID: "ffffffffffffffffffffffffffffffff",
      spans: TRACE.spans.map((span) => ({ ...span, startTime: span.startTime + 1_000_000 })),
    };
    const text = formatTraces([later, TRACE]);
    expect(text.indexOf(TRACE_ID)).toBeLessThan(text.indexOf(later.traceID));
    expect(text).toContain("\n\ntrace ffff");
  });

  it("formats the pieces", () => {
    expect(duration(850)).toBe("850µs");
    expect(duration(12_345)).toBe("12.35ms");
    expect(duration(1_250_000)).toBe("1.25s");
    expect(shortName("publish shop.order.created")).toBe("publish shop.order.created");
    expect(shortName("attempt shop.inventory.v1.InventoryService/GetStock")).toBe("attempt InventoryService/GetStock");
    expect(bar(0, 0, 0, 0, 4)).toBe("|█   |");
    expect(outcome({ ...(TRACE.spans[0] as JaegerSpan), tags: [{ key: "error", value: true }] })).toBe("error");
  });
});
