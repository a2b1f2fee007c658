// A synthetic trace in Jaeger's JSON for the waterfall and trace API tests: a PlaceOrder through the gateway's
// sidecar whose first attempt failed and was retried, plus a consumer span whose producer was never exported.
import type { JaegerSpan, JaegerTrace } from "./waterfall.ts";

export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const T0 = 1_700_000_000_000_000; // µs since the epoch: 2023-11-14 22:13:20 UTC

const tag = (key: string, value: string | number | boolean) => ({
  key,
  type: typeof value === "string" ? "string" : typeof value === "boolean" ? "bool" : "int64",
  value,
});

function span(
  spanID: string,
  parent: string | undefined,
  processID: string,
  operationName: string,
  start: number,
  duration: number,
  tags: ReturnType<typeof tag>[] = [],
  logs: JaegerSpan["logs"] = [],
): JaegerSpan {
  return {
    traceID: TRACE_ID,
    spanID,
    operationName,
    references: parent ? [{ refType: "CHILD_OF", traceID: TRACE_ID, spanID: parent }] : [],
    startTime: T0 + start,
    duration,
    tags,
    logs,
    processID,
  };
}

export const TRACE: JaegerTrace = {
  traceID: TRACE_ID,
  processes: {
    p1: { serviceName: "gateway" },
    p2: { serviceName: "gateway-sidecar" },
    p3: { serviceName: "order" },
    p4: { serviceName: "inventory" },
  },
  // Deliberately out of order: the tree, not the answer's order, decides the lines.
  spans: [
    span("0000000000000003", "0000000000000002", "p2", "attempt shop.order.v1.OrderService/PlaceOrder", 1000, 2000, [
      tag("span.kind", "client"),
      tag("mesh.attempt", 1),
      tag("rpc.grpc.status_code", 14),
      tag("error", true),
      tag("otel.status_code", "ERROR"),
      tag("otel.status_description", "connection refused"),
    ]),
    span("0000000000000001", undefined, "p1", "shop.gateway.v1.GatewayService/PlaceOrder", 0, 10_000, [
      tag("span.kind", "server"),
      tag("rpc.system", "connect_rpc"),
      tag("http.response.status_code", 200),
    ]),
    span(
      "0000000000000002",
      "0000000000000001",
      "p2",
      "shop.order.v1.OrderService/PlaceOrder",
      500,
      9000,
      [tag("span.kind", "client"), tag("rpc.grpc.status_code", 0), tag("mesh.upstream", "order")],
      [
        {
          timestamp: T0 + 3000,
          fields: [
            { key: "event", type: "string", value: "retry.backoff" },
            { key: "mesh.retry_reason", type: "string", value: "UNAVAILABLE" },
            { key: "mesh.backoff_ms", type: "int64", value: 25 },
          ],
        },
      ],
    ),
    span("0000000000000004", "0000000000000002", "p2", "attempt shop.order.v1.OrderService/PlaceOrder", 5000, 4000, [
      tag("span.kind", "client"),
      tag("mesh.attempt", 2),
      tag("mesh.retry_reason", "UNAVAILABLE"),
      tag("rpc.grpc.status_code", 0),
    ]),
    span("0000000000000005", "0000000000000004", "p3", "shop.order.v1.OrderService/PlaceOrder", 5500, 3000, [
      tag("span.kind", "server"),
      tag("rpc.grpc.status_code", 0),
      tag("shop.order_id", "9b2e6a52-58c4-4c3e-9c2e-1f0c9d6c0a11"),
    ]),
    // Its producer span (publish shop.order.created) is not in the trace: exported late, or lost.
    span("0000000000000006", "00000000000000ff", "p4", "process shop.order.created", 9500, 500, [
      tag("span.kind", "consumer"),
      tag("shop.event.outcome", "applied"),
      tag("shop.order_id", "9b2e6a52-58c4-4c3e-9c2e-1f0c9d6c0a11"),
    ]),
  ],
};
