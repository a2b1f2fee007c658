import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import {
  createLogger,
  enqueueEvent,
  handleEvent,
  implement,
  meshClient,
  OutboxEvent,
  RetryLaterError,
  type RunningService,
  startService,
  startTracing,
  type Tracing,
  tagSpanWithOrder,
  transaction,
} from "../src/index.ts";
import { createTestDatabase, type EchoServer, startEchoServer } from "../src/testing/index.ts";

// The kit's spans recorded into memory: handler, mesh client, database, outbox relay and consumer spans, and the
// parent links that make one order's saga one trace. Real PostgreSQL and nats-server, as in production.
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let echo: EchoServer;

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID = "00f067aa0ba902b7";
const CALLER_TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;

beforeAll(async () => {
  tracing = await startTracing("kit-test", { exporter });
  echo = await startEchoServer("echo-traced");
});

afterAll(async () => {
  await echo?.shutdown(100);
  await tracing?.shutdown();
});

beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const named = (name: string, kind?: SpanKind) =>
  spans().filter((span) => span.name === name && (kind === undefined || span.kind === kind));
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const statementOf = (span: ReadableSpan) => String(span.attributes["db.statement"] ?? span.attributes["db.query.text"]);
const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${idOf(span)}-01`;

async function until<T>(find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("not recorded in time");
    await sleep(25);
  }
}

/** A client without the kit's interceptor: it sends only the headers a test gives it. */
const plainEchoClient = (address: string) =>
  createClient(EchoService, createGrpcTransport({ baseUrl: `http://${address}` }));

describe("handler spans", () => {
  it("continue the caller's traceparent, with the contract's name and attributes", async () => {
    await plainEchoClient(echo.address).echo({ message: "hi" }, { headers: { traceparent: CALLER_TRACEPARENT } });
    const [span] = await until(() => {
      const found = named("mesh.echo.v1.EchoService/Echo", SpanKind.SERVER);
      return found.length ? found : undefined;
    });
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span && parentOf(span)).toBe(CALLER_SPAN_ID);
    expect(span?.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "mesh.echo.v1.EchoService",
      "rpc.method": "Echo",
      "rpc.grpc.status_code": 0,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("record a failed call's status code and message as an error", async () => {
    await expect(plainEchoClient(echo.address).echo({ failCode: 5, failMessage: "no such thing" })).rejects.toThrow(
      "no such thing",
    );
    const span = await until(() => named("mesh.echo.v1.EchoService/Echo", SpanKind.SERVER)[0]);
    expect(span.attributes["rpc.grpc.status_code"]).toBe(5);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: "no such thing" });
  });

  it("are not recorded for health checks", async () => {
    const { Health } = await import("@mesh/proto/grpc/health/v1/health_pb");
    await createClient(Health, createGrpcTransport({ baseUrl: `http://${echo.address}` })).check({});
    await plainEchoClient(echo.address).echo({ message: "after the check" });
    await until(() => named("mesh.echo.v1.EchoService/Echo")[0]);
    expect(spans().filter((span) => span.name.startsWith("grpc.health"))).toEqual([]);
  });
});

describe("mesh client spans", () => {
  it("are children of the active span and send their own traceparent", async () => {
    const client = meshClient(EchoService, echo.address);
    const reply = await trace.getTracer("test").startActiveSpan("caller", async (caller) => {
      try {
        return await client.echo({ message: "traced" });
      } finally {
        caller.end();
      }
    });
    const [callerSpan] = named("caller");
    const clientSpan = await until(() => named("mesh.echo.v1.EchoService/Echo", SpanKind.CLIENT)[0]);
    const serverSpan = await until(() => named("mesh.echo.v1.EchoService/Echo", SpanKind.SERVER)[0]);
    expect(callerSpan && parentOf(clientSpan)).toBe(callerSpan && idOf(callerSpan));
    expect(clientSpan.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.grpc.status_code": 0 });
    expect(reply.metadata.traceparent).toBe(traceparentOf(clientSpan));
    expect(parentOf(serverSpan)).toBe(idOf(clientSpan));
  });

  it("record the status of a failed call", async () => {
    await expect(meshClient(EchoService, echo.address).echo({ failCode: 14, failMessage: "away" })).rejects.toThrow();
    const clientSpan = await until(() => named("mesh.echo.v1.EchoService/Echo", SpanKind.CLIENT)[0]);
    expect(clientSpan.attributes["rpc.grpc.status_code"]).toBe(14);
    expect(clientSpan.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe("logs", () => {
  it("carry trace_id and span_id while a span is active, and only then", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = "info";
    const log = createLogger("traced", sink);
    if (level === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = level;
    log.info("outside");
    trace.getTracer("test").startActiveSpan("logging", (span) => {
      log.child({ part: "child" }).info("inside");
      span.end();
    });
    const [span] = named("logging");
    expect(lines[0]).not.toHaveProperty("trace_id");
    expect(lines[1]).toMatchObject({
      msg: "inside",
      trace_id: span?.spanContext().traceId,
      span_id: span && idOf(span),
    });
  });
});

describe("one order's saga is one trace", () => {
  const suffix = randomBytes(4).toString("hex");
  const subject = `shop.kittrace${suffix}.written`;
  const consumerName = `kit-trace-${suffix}`;
  const log = pino({ level: "silent" });
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let service: RunningService;
  const applied: string[] = [];
  /** Orders whose first delivery the consumer defers (RetryLaterError). */
  const deferOnce = new Set<string>();

  beforeAll(async () => {
    database = await createTestDatabase(inject("databaseUrls").order, "kit_tracing");
    service = await startService({
      name: "kit-trace",
      databaseUrl: database.url,
      natsUrl: inject("natsUrl"),
      grpc: { host: "127.0.0.1", port: 0 },
      entities: [],
      migrations: [],
      log,
      services: (context) => [
        implement(EchoService, {
          // Write: an order "placed" in a transaction with its event in the outbox.
          async write(request) {
            const orderId = request.message;
            await transaction(context, async (em) => {
              enqueueEvent(em, {
                subject,
                schema: OrderCreatedSchema,
                message: create(OrderCreatedSchema, { orderId }),
                correlationId: orderId,
              });
            });
            tagSpanWithOrder(orderId);
            return { message: orderId };
          },
          echo: (request) => ({ message: request.message }),
          async *expand() {},
          collect: async () => ({}),
          async *chat() {},
        }),
      ],
      consumers: () => [
        {
          name: consumerName,
          subject,
          handler: handleEvent(OrderCreatedSchema, async (em, message, event) => {
            if (deferOnce.has(message.orderId) && event.deliveryCount === 1)
              throw new RetryLaterError("the card gateway is away", 50);
            await em.execute("select 1");
            applied.push(message.orderId);
          }),
        },
      ],
    });
  });

  afterAll(async () => {
    await service?.stop(100);
    await database?.drop();
  });

  it("links handler -> database -> outbox row -> producer -> consumer", async () => {
    const orderId = randomUUID();
    await plainEchoClient(service.server.address).write(
      { message: orderId },
      { headers: { traceparent: CALLER_TRACEPARENT } },
    );
    const consumerSpan = await until(() => named(`process ${subject}`, SpanKind.CONSUMER)[0]);

    const handlerSpan = named("mesh.echo.v1.EchoService/Write", SpanKind.SERVER)[0];
    expect(handlerSpan && parentOf(handlerSpan)).toBe(CALLER_SPAN_ID);
    expect(handlerSpan?.attributes["shop.order_id"]).toBe(orderId);
    if (!handlerSpan) throw new Error("no handler span");

    const databaseSpans = spans().filter((span) => span.attributes["db.system"] === "postgresql");
    const handlerQueries = databaseSpans.filter((span) => parentOf(span) === idOf(handlerSpan));
    expect(handlerQueries.length).toBeGreaterThan(0);
    expect(handlerQueries.every((span) => span.kind === SpanKind.CLIENT)).toBe(true);
    expect(handlerQueries.some((span) => statementOf(span).includes("outbox"))).toBe(true);

    const row = await service.context.orm.em.fork().findOne(OutboxEvent, { correlationId: orderId });
    expect(row?.traceparent).toBe(traceparentOf(handlerSpan));

    const [producerSpan] = named(`publish ${subject}`, SpanKind.PRODUCER);
    if (!producerSpan) throw new Error("no producer span");
    expect(parentOf(producerSpan)).toBe(idOf(handlerSpan));
    expect(producerSpan.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.name": "publish",
      "messaging.destination.name": subject,
      "messaging.message.id": row?.id,
      "shop.event.type": "shop.events.v1.OrderCreated",
      "shop.order_id": orderId,
    });

    expect(parentOf(consumerSpan)).toBe(idOf(producerSpan));
    expect(consumerSpan.spanContext().traceId).toBe(TRACE_ID);
    expect(consumerSpan.attributes).toMatchObject({
      "messaging.operation.name": "process",
      "messaging.consumer.group.name": consumerName,
      "shop.event.outcome": "applied",
      "shop.order_id": orderId,
    });
    expect(applied).toContain(orderId);
    const consumerQueries = databaseSpans.filter((span) => parentOf(span) === idOf(consumerSpan));
    expect(consumerQueries.some((span) => statementOf(span).includes("select 1"))).toBe(true);
  });

  it("shows a deferred delivery as its own consumer span, outcome deferred with the reason and the retry, then the one applied", async () => {
    const orderId = randomUUID();
    deferOnce.add(orderId);
    await plainEchoClient(service.server.address).write({ message: orderId });
    const ofOrder = () =>
      named(`process ${subject}`, SpanKind.CONSUMER).filter((span) => span.attributes["shop.order_id"] === orderId);
    const [deferred, appliedSpan] = await until(() => (ofOrder().length === 2 ? ofOrder() : undefined));
    expect(deferred?.attributes).toMatchObject({
      "shop.event.outcome": "deferred",
      "shop.event.deferred_reason": "the card gateway is away",
    });
    expect(deferred?.status.code).not.toBe(SpanStatusCode.ERROR);
    // Each retry says which attempt failed and when the next comes.
    expect(deferred?.events.map(({ name, attributes }) => ({ name, attributes }))).toEqual([
      { name: "retry scheduled", attributes: { "shop.event.attempt": 1, "shop.event.retry_delay_ms": 50 } },
    ]);
    expect(appliedSpan?.attributes["shop.event.outcome"]).toBe("applied");
    expect(applied).toContain(orderId);
  });
});
