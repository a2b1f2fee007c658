// Synthetic traces for tests and the page check: spans described briefly, turned into the SDK's span shape and
// serialized by OpenTelemetry's own OTLP serializers (protobuf and JSON), so the receiver gets real exporter bodies.
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";

type ReadableSpans = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0];
type Attributes = Record<string, string | number | boolean | string[]>;

export interface FakeSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: "internal" | "server" | "client" | "producer" | "consumer";
  /** Milliseconds since the epoch. */
  startMs: number;
  durationMs: number;
  attributes?: Attributes;
  events?: { name: string; atMs: number; attributes?: Attributes }[];
  /** An error status with this message. */
  error?: string;
}

const KIND = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;

const hrTime = (ms: number): [number, number] => {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
};

/** The SDK's ReadableSpan shape, one resource object per service (so the serializer groups them as an SDK does). */
export function readableSpans(spans: FakeSpan[]): ReadableSpans {
  const resources = new Map<string, { attributes: Attributes }>();
  const resourceOf = (service: string) => {
    let resource = resources.get(service);
    if (!resource) {
      resource = { attributes: { "service.name": service, "service.instance.id": `${service}-1` } };
      resources.set(service, resource);
    }
    return resource;
  };
  return spans.map((span) => ({
    name: span.name,
    kind: KIND[span.kind],
    spanContext: () => ({ traceId: span.traceId, spanId: span.spanId, traceFlags: 1 }),
    parentSpanContext: span.parentSpanId
      ? { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: 1, isRemote: false }
      : undefined,
    startTime: hrTime(span.startMs),
    endTime: hrTime(span.startMs + span.durationMs),
    status: span.error ? { code: 2, message: span.error } : { code: 0 },
    attributes: span.attributes ?? {},
    links: [],
    events: (span.events ?? []).map((event) => ({
      name: event.name,
      time: hrTime(event.atMs),
      attributes: event.attributes ?? {},
    })),
    duration: hrTime(span.durationMs),
    ended: true,
    resource: resourceOf(span.service),
    instrumentationScope: { name: "mesh-test", version: "1.0.0" },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  })) as unknown as ReadableSpans;
}

export function otlpProtobuf(spans: FakeSpan[]): Uint8Array {
  const body = ProtobufTraceSerializer.serializeRequest(readableSpans(spans));
  if (!body) throw new Error("the protobuf serializer gave nothing");
  return body;
}

export function otlpJson(spans: FakeSpan[]): Uint8Array {
  const body = JsonTraceSerializer.serializeRequest(readableSpans(spans));
  if (!body) throw new Error("the JSON serializer gave nothing");
  return body;
}

let counter = 0;
/** A fresh random-looking id of `bytes` bytes, as hex. */
export function hexId(bytes: 8 | 16): string {
  counter++;
  return Array.from({ length: bytes }, (_, i) =>
    ((counter * 37 + i * 11 + 1) % 256).toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * One order's trace as the mesh would record it: the gateway's PlaceOrder through the sidecars to order (one retried
 * attempt), the outbox publish of shop.order.created, inventory and payment consuming and publishing, order confirming.
 */
export function orderSagaTrace(orderId: string, baseMs: number, traceId = hexId(16)): FakeSpan[] {
  const id = () => hexId(8);
  const order = { "shop.order_id": orderId };
  const rpc = (service: string, method: string) => ({
    "rpc.system": "grpc",
    "rpc.service": service,
    "rpc.method": method,
  });
  const gateway = id();
  const sidecarOut = id();
  const attempt1 = id();
  const attempt2 = id();
  const inbound = id();
  const handler = id();
  const publishCreated = id();
  const reserve = id();
  const publishReserved = id();
  const charge = id();
  const publishCompleted = id();
  const confirm = id();
  const name = "shop.order.v1.OrderService/PlaceOrder";
  const messaging = (operation: "publish" | "process", subject: string, extra: Attributes = {}) => ({
    "messaging.system": "nats",
    "messaging.operation.name": operation,
    "messaging.destination.name": subject,
    "shop.event.type": subject,
    ...order,
    ...extra,
  });
  return [
    {
      service: "gateway",
      traceId,
      spanId: gateway,
      name,
      kind: "server",
      startMs: baseMs,
      durationMs: 40,
      attributes: { "rpc.system": "connect_rpc", ...order },
    },
    {
      service: "gateway-sidecar",
      traceId,
      spanId: sidecarOut,
      parentSpanId: gateway,
      name,
      kind: "client",
      startMs: baseMs + 1,
      durationMs: 36,
      attributes: {
        ...rpc("shop.order.v1.OrderService", "PlaceOrder"),
        "mesh.upstream": "order",
        "rpc.grpc.status_code": 0,
      },
      events: [
        {
          name: "retry.backoff",
          atMs: baseMs + 6,
          attributes: { "mesh.retry_reason": "UNAVAILABLE", "mesh.backoff_ms": 5 },
        },
      ],
    },
    {
      service: "gateway-sidecar",
      traceId,
      spanId: attempt1,
      parentSpanId: sidecarOut,
      name: `attempt ${name}`,
      kind: "client",
      startMs: baseMs + 1,
      durationMs: 4,
      attributes: { "mesh.attempt": 1, "rpc.grpc.status_code": 14 },
      error: "connection refused",
    },
    {
      service: "gateway-sidecar",
      traceId,
      spanId: attempt2,
      parentSpanId: sidecarOut,
      name: `attempt ${name}`,
      kind: "client",
      startMs: baseMs + 11,
      durationMs: 25,
      attributes: { "mesh.attempt": 2, "mesh.retry_reason": "UNAVAILABLE", "rpc.grpc.status_code": 0 },
    },
    {
      service: "order-sidecar",
      traceId,
      spanId: inbound,
      parentSpanId: attempt2,
      name,
      kind: "server",
      startMs: baseMs + 12,
      durationMs: 23,
      attributes: { "rpc.grpc.status_code": 0 },
    },
    {
      service: "order",
      traceId,
      spanId: handler,
      parentSpanId: inbound,
      name,
      kind: "server",
      startMs: baseMs + 13,
      durationMs: 20,
      attributes: { ...rpc("shop.order.v1.OrderService", "PlaceOrder"), "rpc.grpc.status_code": 0, ...order },
    },
    {
      service: "order",
      traceId,
      spanId: publishCreated,
      parentSpanId: handler,
      name: "publish shop.order.created",
      kind: "producer",
      startMs: baseMs + 50,
      durationMs: 3,
      attributes: messaging("publish", "shop.order.created"),
    },
    {
      service: "inventory",
      traceId,
      spanId: reserve,
      parentSpanId: publishCreated,
      name: "process shop.order.created",
      kind: "consumer",
      startMs: baseMs + 60,
      durationMs: 12,
      attributes: messaging("process", "shop.order.created", {
        "messaging.consumer.group.name": "inventory-orders",
        "shop.event.outcome": "applied",
      }),
    },
    {
      service: "inventory",
      traceId,
      spanId: publishReserved,
      parentSpanId: reserve,
      name: "publish shop.inventory.reserved",
      kind: "producer",
      startMs: baseMs + 80,
      durationMs: 2,
      attributes: messaging("publish", "shop.inventory.reserved"),
    },
    {
      service: "payment",
      traceId,
      spanId: charge,
      parentSpanId: publishReserved,
      name: "process shop.inventory.reserved",
      kind: "consumer",
      startMs: baseMs + 90,
      durationMs: 30,
      attributes: messaging("process", "shop.inventory.reserved", {
        "messaging.consumer.group.name": "payment-reservations",
        "shop.event.outcome": "applied",
      }),
    },
    {
      service: "payment",
      traceId,
      spanId: publishCompleted,
      parentSpanId: charge,
      name: "publish shop.payment.completed",
      kind: "producer",
      startMs: baseMs + 125,
      durationMs: 2,
      attributes: messaging("publish", "shop.payment.completed"),
    },
    {
      service: "order",
      traceId,
      spanId: confirm,
      parentSpanId: publishCompleted,
      name: "process shop.payment.completed",
      kind: "consumer",
      startMs: baseMs + 135,
      durationMs: 8,
      attributes: messaging("process", "shop.payment.completed", {
        "messaging.consumer.group.name": "order-payments",
        "shop.event.outcome": "applied",
      }),
    },
  ];
}
