import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EventHandler, type EventStreams, Header, PoisonEventError, startConsumer } from "../src/index.ts";
import { countIt, type EventHarness, log, startHarness, until } from "./event-harness.ts";

// The consumer classes (must-complete and bounded), dead letters per consumer, the consumers' metrics and the ack
// wait, against a real PostgreSQL and a real nats-server.

const streams: EventStreams = {
  events: { name: "KIT_CLASSES", subjects: ["classes.>"] },
  deadLetters: { name: "KIT_CLASSES_DLQ", subjects: ["dlq.classes.>"] },
  duplicateWindowMs: 60_000,
};
const stream = streams.events.name;
let kit: EventHarness;

beforeAll(async () => {
  kit = await startHarness("kit_classes", streams);
});

afterAll(async () => {
  await kit?.close();
});

function deps(overrides: { js?: JetStreamClient; metrics?: Registry } = {}) {
  return { js: kit.js, jsm: kit.jsm, orm: kit.orm, log, ...overrides };
}

/** A metric's value for one consumer (0 when it has none). */
async function metricOf(registry: Registry, name: string, consumer: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((value) => value.labels.consumer === consumer)?.value ?? 0;
}

function headersOf(letter: { header: { get(name: string): string } }) {
  const names = [
    Header.eventId,
    Header.msgId,
    Header.type,
    Header.deadLetterConsumer,
    Header.deadLetterReason,
    Header.deadLetterDeliveries,
    Header.originalSubject,
  ];
  return Object.fromEntries(names.map((name) => [name, letter.header.get(name)]));
}

describe("consumer classes", () => {
  it("retries a must-complete consumer's failing event past maxDeliver, applies it once, never dead-letters it", async () => {
    let deliveries = 0;
    const failEightTimes: EventHandler = async (em, event) => {
      deliveries++;
      if (deliveries <= 8) throw new Error("the database is away");
      await countIt(em, event);
    };
    const consumer = await startConsumer(deps(), {
      name: "classes-must",
      stream,
      subject: "classes.must.created",
      handler: failEightTimes,
      mustComplete: true,
      maxDeliver: 3,
      retryCeilingMs: 100,
    });
    try {
      await kit.publishEvent("classes.must.created", "must-1", "o-must");
      await until(async () => (await kit.tallyOf("o-must")) === 1);
      expect(deliveries).toBe(9);
      expect(await kit.deadLetters("dlq.classes.must.created")).toEqual([]);
      expect((await kit.jsm.consumers.info(stream, "classes-must")).config.max_deliver).toBe(-1);
    } finally {
      await consumer.stop();
    }
  });

  it("dead-letters a bounded consumer's failing event after maxDeliver, naming consumer, reason and deliveries", async () => {
    let deliveries = 0;
    const alwaysFail: EventHandler = async () => {
      deliveries++;
      throw new Error("no such product\nin the catalogue");
    };
    const metrics = new Registry();
    const consumer = await startConsumer(deps({ metrics }), {
      name: "classes-bounded",
      stream,
      subject: "classes.bounded.created",
      handler: alwaysFail,
      maxDeliver: 3,
    });
    try {
      await kit.publishEvent("classes.bounded.created", "bounded-1", "o-bounded");
      await until(async () => (await kit.deadLetters("dlq.classes.bounded.created")).length === 1);
      const [letter] = await kit.deadLetters("dlq.classes.bounded.created");
      expect(letter && headersOf(letter)).toEqual({
        [Header.eventId]: "bounded-1",
        [Header.msgId]: "bounded-1:classes-bounded",
        [Header.type]: "shop.events.v1.OrderCreated",
        [Header.deadLetterConsumer]: "classes-bounded",
        [Header.deadLetterReason]: "no such product in the catalogue",
        [Header.deadLetterDeliveries]: "3",
        [Header.originalSubject]: "classes.bounded.created",
      });
      expect(Number.isNaN(Date.parse(letter?.header.get(Header.deadLetteredAt) ?? ""))).toBe(false);
      expect(deliveries).toBe(3);
      expect(await metricOf(metrics, "mesh_events_dead_lettered_total", "classes-bounded")).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it("stores one dead letter per consumer when two consumers of a subject give up on the same event", async () => {
    const refuse =
      (why: string): EventHandler =>
      async () => {
        throw new PoisonEventError(why);
      };
    const consumers = await Promise.all(
      ["a", "b"].map((side) =>
        startConsumer(deps(), {
          name: `classes-twice-${side}`,
          stream,
          subject: "classes.twice.created",
          handler: refuse(`side ${side} cannot decode it`),
        }),
      ),
    );
    try {
      await kit.publishEvent("classes.twice.created", "twice-1", "o-twice");
      await until(async () => (await kit.deadLetters("dlq.classes.twice.created")).length === 2);
      const letters = (await kit.deadLetters("dlq.classes.twice.created")).map(headersOf);
      expect(letters.sort((x, y) => x[Header.msgId]?.localeCompare(y[Header.msgId] ?? "") ?? 0)).toEqual(
        ["a", "b"].map((side) => ({
          [Header.eventId]: "twice-1",
          [Header.msgId]: `twice-1:classes-twice-${side}`,
          [Header.type]: "shop.events.v1.OrderCreated",
          [Header.deadLetterConsumer]: `classes-twice-${side}`,
          [Header.deadLetterReason]: `side ${side} cannot decode it`,
          [Header.deadLetterDeliveries]: "1",
          [Header.originalSubject]: "classes.twice.created",
        })),
      );
    } finally {
      await Promise.all(consumers.map((consumer) => consumer.stop()));
    }
  });

  it("keeps an event whose dead letter cannot be stored yet: it comes again and is dead-lettered then", async () => {
    let refusals = 4;
    const flaky = Object.create(kit.js) as JetStreamClient;
    flaky.publish = async (subject, ...rest) => {
      if (subject.startsWith("dlq.") && refusals-- > 0) throw new Error("the dead-letter stream is away");
      return kit.js.publish(subject, ...rest);
    };
    let deliveries = 0;
    const consumer = await startConsumer(deps({ js: flaky }), {
      name: "classes-unstored",
      stream,
      subject: "classes.unstored.created",
      handler: async () => {
        deliveries++;
        throw new PoisonEventError("cannot decode it");
      },
    });
    try {
      await kit.publishEvent("classes.unstored.created", "unstored-1", "o-unstored");
      await until(async () => (await kit.deadLetters("dlq.classes.unstored.created")).length === 1);
      const [letter] = await kit.deadLetters("dlq.classes.unstored.created");
      // The first delivery's three tries failed; the second delivery's second try stored it.
      expect(letter?.header.get(Header.deadLetterDeliveries)).toBe("2");
      expect(deliveries).toBe(2);
      expect(refusals).toBe(-1);
    } finally {
      await consumer.stop();
    }
  });

  it("dead-letters a replayed event again when it fails again, even before the replay deleted its dead letter", async () => {
    const consumer = await startConsumer(deps(), {
      name: "classes-replayed",
      stream,
      subject: "classes.replayed.created",
      handler: async () => {
        throw new PoisonEventError("still cannot decode it");
      },
    });
    try {
      await kit.publishEvent("classes.replayed.created", "replayed-1", "o-replayed");
      await until(async () => (await kit.deadLetters("dlq.classes.replayed.created")).length === 1);
      const [first] = await kit.deadLetters("dlq.classes.replayed.created");
      if (!first) throw new Error("no dead letter");
      // A replay: the event again on its subject under a fresh msgID, its event id header kept; the dead letter gone.
      // It may fail again before the dead letter it came from is deleted: both are kept for a moment.
      const headers = first.header;
      for (const name of [Header.deadLetterConsumer, Header.deadLetterReason, Header.deadLetterDeliveries])
        headers.delete(name);
      await kit.js.publish("classes.replayed.created", first.data, {
        msgID: `replayed-1:replay:${first.seq}`,
        headers,
      });
      await until(async () => (await kit.deadLetters("dlq.classes.replayed.created")).length === 2);
      await kit.jsm.streams.deleteMessage(streams.deadLetters.name, first.seq);
      const [again] = await kit.deadLetters("dlq.classes.replayed.created");
      expect(again?.seq).not.toBe(first.seq);
      expect(again?.header.get(Header.eventId)).toBe("replayed-1");
      expect(again?.header.get(Header.deadLetterConsumer)).toBe("classes-replayed");
    } finally {
      await consumer.stop();
    }
  });
});

describe("consumer metrics and ack wait", () => {
  it("counts a failing event as retrying, with its age and retries, until it is applied", async () => {
    const metrics = new Registry();
    let failing = true;
    const consumer = await startConsumer(deps({ metrics }), {
      name: "classes-metrics",
      stream,
      subject: "classes.metrics.created",
      handler: async (em, event) => {
        if (failing) throw new Error("the card gateway is away");
        await countIt(em, event);
      },
      mustComplete: true,
      retryCeilingMs: 100,
    });
    const value = (name: string) => metricOf(metrics, name, "classes-metrics");
    try {
      expect(await value("mesh_events_retries_total")).toBe(0);
      await kit.publishEvent("classes.metrics.created", "metrics-1", "o-metrics");
      await until(async () => (await value("mesh_events_retries_total")) >= 3);
      expect(await value("mesh_events_retrying")).toBe(1);
      expect(await value("mesh_events_oldest_retry_age_seconds")).toBeGreaterThan(0);
      failing = false;
      await until(async () => (await kit.tallyOf("o-metrics")) === 1);
      expect(await value("mesh_events_retrying")).toBe(0);
      expect(await value("mesh_events_oldest_retry_age_seconds")).toBe(0);
      expect(await value("mesh_events_dead_lettered_total")).toBe(0);
      expect(await metrics.metrics()).toContain('mesh_events_retrying{consumer="classes-metrics"} 0');
    } finally {
      await consumer.stop();
    }
  });

  it("keeps an event while its handler runs longer than the ack wait: it is delivered once", async () => {
    let calls = 0;
    const consumer = await startConsumer(deps(), {
      name: "classes-slow",
      stream,
      subject: "classes.slow.created",
      handler: async (em, event) => {
        calls++;
        await sleep(2500);
        await countIt(em, event);
      },
      ackWaitMs: 1000,
    });
    try {
      await kit.publishEvent("classes.slow.created", "slow-1", "o-slow");
      await until(async () => (await kit.tallyOf("o-slow")) === 1);
      // The consumer sequence counts deliveries, a redelivery too.
      expect((await kit.jsm.consumers.info(stream, "classes-slow")).delivered.consumer_seq).toBe(1);
      expect(calls).toBe(1);
    } finally {
      await consumer.stop();
    }
  });
});
