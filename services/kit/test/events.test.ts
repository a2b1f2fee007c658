import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { startNatsServer } from "@mesh/embedded";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyOnce,
  type EventHandler,
  type EventStreams,
  enqueueEvent,
  ensureStreams,
  Header,
  type IncomingEvent,
  OutboxEvent,
  OutboxRelay,
  RetryLaterError,
  startConsumer,
  transactionWithEvents,
} from "../src/index.ts";
import { countIt, type EventHarness, log, startHarness, until } from "./event-harness.ts";

// The asynchronous side of the kit against a real PostgreSQL and a real nats-server: outbox, relay, idempotent
// consumers, dead letters.
const streams: EventStreams = {
  events: { name: "KIT_TEST_EVENTS", subjects: ["kit.>"] },
  deadLetters: { name: "KIT_TEST_DLQ", subjects: ["dlq.kit.>"] },
  duplicateWindowMs: 1000,
};
let harness: EventHarness;
let orm: MikroORM;
let js: JetStreamClient;
let jsm: JetStreamManager;
let tallyOf: EventHarness["tallyOf"];

beforeAll(async () => {
  harness = await startHarness("kit_events", streams);
  ({ orm, js, jsm, tallyOf } = harness);
});

afterAll(async () => {
  await harness?.close();
});

const orderCreated = (orderId: string) => create(OrderCreatedSchema, { orderId, customerId: "c1" });

function commitEvent(orderId: string, subject = "kit.order.created") {
  return orm.em.fork().transactional(async (em) => {
    enqueueEvent(em, {
      subject,
      schema: OrderCreatedSchema,
      message: orderCreated(orderId),
      correlationId: orderId,
      traceparent: "00-abc-def-01",
    });
  });
}

describe("outbox, relay and idempotent consumer", () => {
  it("publishes a committed event once, with its envelope, and the consumer applies it once", async () => {
    const consumer = await startConsumer(
      { js, jsm, orm, log },
      { name: "kit-count", stream: streams.events.name, subject: "kit.order.created", handler: countIt },
    );
    const relay = new OutboxRelay(orm, js, log, { pollIntervalMs: 10_000 });
    relay.start();
    try {
      await commitEvent("o-1");
      relay.wake();
      await until(async () => (await tallyOf("o-1")) === 1);
      const stored = await jsm.streams.getMessage(streams.events.name, { last_by_subj: "kit.order.created" });
      expect(stored?.header.get(Header.type)).toBe("shop.events.v1.OrderCreated");
      expect(stored?.header.get(Header.correlationId)).toBe("o-1");
      expect(stored?.header.get(Header.traceparent)).toBe("00-abc-def-01");
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  });

  it("publishes a transaction's events as it commits, without a sweep, and marks them published together", async () => {
    const consumer = await startConsumer(
      { js, jsm, orm, log },
      { name: "kit-fast", stream: streams.events.name, subject: "kit.fast.created", handler: countIt },
    );
    // No sweep would run within the test: only publishCommitted can deliver these.
    const relay = new OutboxRelay(orm, js, log, { pollIntervalMs: 60_000, sweepAfterMs: 60_000 });
    relay.start();
    try {
      const orders = ["fast-1", "fast-2", "fast-3"];
      const { events } = await transactionWithEvents(orm, async (em) => {
        for (const orderId of orders)
          enqueueEvent(em, {
            subject: "kit.fast.created",
            schema: OrderCreatedSchema,
            message: orderCreated(orderId),
            correlationId: orderId,
          });
      });
      expect(events.map((event) => event.correlationId)).toEqual(orders);
      relay.publishCommitted(events);
      await until(async () => (await Promise.all(orders.map(tallyOf))).every((applied) => applied === 1));
      const unpublished = async () =>
        (await orm.em.fork().find(OutboxEvent, { id: { $in: events.map((event) => event.id) }, publishedAt: null }))
          .length;
      await until(async () => (await unpublished()) === 0);
    } finally {
      await relay.stop();
      await consumer.stop();
    }
  });

  it("publishes nothing for a rolled-back transaction", async () => {
    await expect(
      orm.em.fork().transactional(async (em) => {
        enqueueEvent(em, {
          subject: "kit.order.created",
          schema: OrderCreatedSchema,
          message: orderCreated("o-rollback"),
          correlationId: "o-rollback",
        });
        throw new Error("business rule failed");
      }),
    ).rejects.toThrow("business rule failed");
    const relay = new OutboxRelay(orm, js, log);
    expect(await relay.publishBatch()).toBe(0);
  });

  it("applies an event redelivered many times exactly once", async () => {
    const event: IncomingEvent = {
      id: "evt-redelivered",
      subject: "kit.order.created",
      type: "shop.events.v1.OrderCreated",
      correlationId: "o-2",
      traceparent: undefined,
      deliveryCount: 1,
      payload: toBinary(OrderCreatedSchema, orderCreated("o-2")),
    };
    const applied = await Promise.all(Array.from({ length: 10 }, () => applyOnce(orm, "kit-count", event, countIt)));
    expect(applied.filter(Boolean)).toHaveLength(1);
    expect(await tallyOf("o-2")).toBe(1);
  });

  it("produces no duplicate effect when the relay crashes between publishing and marking", async () => {
    const consumer = await startConsumer(
      { js, jsm, orm, log },
      { name: "kit-crash", stream: streams.events.name, subject: "kit.crash.created", handler: countIt },
    );
    try {
      await commitEvent("o-3", "kit.crash.created");
      const crashing = {
        publish: async (...args: Parameters<JetStreamClient["publish"]>) => {
          await js.publish(...args);
          throw new Error("crashed after publishing");
        },
      } as unknown as JetStreamClient;
      await expect(new OutboxRelay(orm, crashing, log).publishBatch()).rejects.toThrow("crashed after publishing");
      // The row is still unpublished; the next relay publishes it again with the same msgID.
      expect(await new OutboxRelay(orm, js, log).publishBatch()).toBe(1);
      await until(async () => (await tallyOf("o-3")) === 1);
      await sleep(300);
      expect(await tallyOf("o-3")).toBe(1);
      const info = await jsm.streams.info(streams.events.name, { subjects_filter: "kit.crash.created" });
      expect(info.state.subjects?.["kit.crash.created"]).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it("redelivers an event its handler defers (RetryLaterError) until it applies, once", async () => {
    let deliveries = 0;
    const deferTwice: EventHandler = async (em, event) => {
      deliveries++;
      if (event.deliveryCount <= 2) throw new RetryLaterError("the card gateway is away", 50);
      await countIt(em, event);
    };
    const consumer = await startConsumer(
      { js, jsm, orm, log },
      {
        name: "kit-defer",
        stream: streams.events.name,
        subject: "kit.defer.created",
        handler: deferTwice,
        maxDeliver: 3,
      },
    );
    try {
      await js.publish("kit.defer.created", toBinary(OrderCreatedSchema, orderCreated("o-defer")), {
        msgID: "defer-1",
      });
      await until(async () => (await tallyOf("o-defer")) === 1);
      expect(deliveries).toBe(3);
    } finally {
      await consumer.stop();
    }
  });

  it("dead-letters a poison event with its reason", async () => {
    const consumer = await startConsumer(
      { js, jsm, orm, log },
      { name: "kit-poison", stream: streams.events.name, subject: "kit.poison.created", handler: countIt },
    );
    try {
      await js.publish("kit.poison.created", new Uint8Array([0xff, 0xff, 0xff]), { msgID: "poison-1" });
      await until(async () => {
        const info = await jsm.streams.info(streams.deadLetters.name);
        return info.state.messages > 0;
      });
      const dead = await jsm.streams.getMessage(streams.deadLetters.name, { last_by_subj: "dlq.kit.poison.created" });
      expect(dead?.header.get(Header.deadLetterReason)).toMatch(/^cannot decode shop.events.v1.OrderCreated/);
      expect(dead?.header.get(Header.originalSubject)).toBe("kit.poison.created");
    } finally {
      await consumer.stop();
    }
  });
});

describe("the relay while NATS is down", () => {
  it("keeps events until NATS is back, then publishes every one", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "mesh-nats-test-"));
    let server = await startNatsServer({ dataDir });
    const own = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const ownJs = jetstream(own, { timeout: 1000 });
    const ownJsm = await jetstreamManager(own);
    await ensureStreams(ownJsm, {
      ...streams,
      events: { name: "KIT_OUTAGE", subjects: ["outage.>"] },
      deadLetters: { name: "KIT_OUTAGE_DLQ", subjects: ["dlq.outage.>"] },
    });
    const relay = new OutboxRelay(orm, ownJs, log, { pollIntervalMs: 100 });
    relay.start();
    try {
      await server.stop();
      for (let i = 0; i < 5; i++) await commitEvent(`outage-${i}`, "outage.order.created");
      relay.wake();
      await sleep(500);
      server = await startNatsServer({ dataDir, port: server.port });
      await until(
        async () => (await ownJsm.streams.info("KIT_OUTAGE").catch(() => undefined))?.state.messages === 5,
        20_000,
      );
    } finally {
      await relay.stop();
      await own.close();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 40_000);
});
