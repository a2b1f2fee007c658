import { create, toBinary } from "@bufbuild/protobuf";
import { OrderCancelledSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { DeadLetterNotFound, DeadLetterStore } from "../src/events/dead-letter-store.ts";
import { deadLetterSubject, type EventStreams, ensureStreams, Header } from "../src/index.ts";

// The dead-letter store against a real nats-server: dead letters published by hand in the shape consumers give them
// (msgID `<event id>:<consumer>`, the event's headers plus the dead-letter ones), then listed, shown, replayed, dropped.
const streams: EventStreams = {
  events: { name: "DLS_TEST_EVENTS", subjects: ["dls.>"] },
  deadLetters: { name: "DLS_TEST_DEAD_LETTERS", subjects: ["dlq.dls.>"] },
  duplicateWindowMs: 60_000,
};
const SUBJECT = "dls.order.cancelled";

let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let store: DeadLetterStore;

beforeAll(async () => {
  nc = await connect({ servers: inject("natsUrl") });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, streams);
  store = await DeadLetterStore.open(js, streams.deadLetters.name);
});

beforeEach(async () => {
  await jsm.streams.purge(streams.deadLetters.name);
});

afterAll(async () => {
  await nc?.close();
});

interface Letter {
  eventId: string;
  /** Stored before the event id header existed: the event's id is its msgID only. */
  legacy?: boolean;
  consumer: string;
  orderId: string;
  reason?: string;
  deliveries?: number;
}

const payloadOf = (orderId: string) =>
  toBinary(OrderCancelledSchema, create(OrderCancelledSchema, { orderId, reason: "customer", refundRequired: true }));

/** Publishes a dead letter as a consumer does; resolves to its sequence. */
async function deadLetter(letter: Letter): Promise<number> {
  const headers = natsHeaders();
  if (!letter.legacy) headers.set(Header.eventId, letter.eventId);
  headers.set(Header.type, "shop.events.v1.OrderCancelled");
  headers.set(Header.correlationId, letter.orderId);
  headers.set(Header.traceparent, `00-${"a".repeat(32)}-${"b".repeat(16)}-01`);
  headers.set(Header.deadLetterConsumer, letter.consumer);
  headers.set(Header.deadLetterReason, letter.reason ?? "boom");
  headers.set(Header.deadLetterDeliveries, String(letter.deliveries ?? 5));
  headers.set(Header.originalSubject, SUBJECT);
  headers.set(Header.deadLetteredAt, "2024-05-01T10:00:00.000Z");
  const ack = await js.publish(deadLetterSubject(SUBJECT), payloadOf(letter.orderId), {
    headers,
    msgID: letter.legacy ? letter.eventId : `${letter.eventId}:${letter.consumer}`,
  });
  return ack.seq;
}

describe("dead-letter store", () => {
  it("lists every consumer's dead letter of an event, oldest first, and filters by consumer", async () => {
    const first = await deadLetter({ eventId: "e-1", consumer: "inventory-order-cancelled", orderId: "o-1" });
    const second = await deadLetter({
      eventId: "e-1",
      consumer: "payment-order-cancelled",
      orderId: "o-1",
      reason: "gateway down",
      deliveries: 7,
    });
    const third = await deadLetter({ eventId: "e-2", consumer: "payment-order-cancelled", orderId: "o-2" });
    const all = await store.list();
    expect(all.map((letter) => letter.seq)).toEqual([first, second, third]);
    expect(all[1]).toEqual({
      seq: second,
      eventId: "e-1",
      consumer: "payment-order-cancelled",
      subject: SUBJECT,
      type: "shop.events.v1.OrderCancelled",
      reason: "gateway down",
      deliveries: 7,
      deadLetteredAt: new Date("2024-05-01T10:00:00.000Z"),
      correlationId: "o-1",
      traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`,
    });
    const payment = await store.list({ consumer: "payment-order-cancelled" });
    expect(payment.map((letter) => letter.seq)).toEqual([second, third]);
    expect(await store.list({ consumer: "nobody" })).toEqual([]);
  });

  it("shows a dead letter's payload and every header", async () => {
    const seq = await deadLetter({ eventId: "e-3", consumer: "inventory-order-cancelled", orderId: "o-3" });
    const letter = await store.show(seq);
    expect(letter).toMatchObject({ seq, eventId: "e-3", correlationId: "o-3", subject: SUBJECT });
    expect(letter.payload).toEqual(payloadOf("o-3"));
    expect(letter.headers[Header.deadLetterReason]).toEqual(["boom"]);
    expect(letter.headers[Header.msgId]).toEqual(["e-3:inventory-order-cancelled"]);
    await expect(store.show(seq + 100)).rejects.toThrow(`dead letter ${seq + 100} is not in DLS_TEST_DEAD_LETTERS`);
  });

  it("replays onto the original subject with the event id kept and a fresh msgID, once", async () => {
    const seq = await deadLetter({ eventId: "e-4", consumer: "payment-order-cancelled", orderId: "o-4" });
    const other = await deadLetter({ eventId: "e-4", consumer: "inventory-order-cancelled", orderId: "o-4" });
    const replayed = await store.replay(seq);
    expect(replayed).toMatchObject({ seq, eventId: "e-4", subject: SUBJECT, msgId: `e-4:replay:${seq}` });
    const event = await jsm.streams.getMessage(streams.events.name, { seq: replayed.eventSeq });
    expect(event?.subject).toBe(SUBJECT);
    expect(event?.data).toEqual(payloadOf("o-4"));
    expect(event?.header.get(Header.msgId)).toBe(`e-4:replay:${seq}`);
    expect(event?.header.get(Header.eventId)).toBe("e-4");
    expect(event?.header.get(Header.correlationId)).toBe("o-4");
    expect(event?.header.get(Header.deadLetterReason)).toBe("");
    // The dead letter is gone; the other consumer's dead letter of the same event stays.
    expect((await store.list()).map((letter) => letter.seq)).toEqual([other]);
    await expect(store.replay(seq)).rejects.toBeInstanceOf(DeadLetterNotFound);
    await expect(store.replay(seq)).rejects.toThrow(`dead letter ${seq} is not in DLS_TEST_DEAD_LETTERS`);
  });

  it("replays every dead letter of one consumer", async () => {
    const a = await deadLetter({ eventId: "e-5", consumer: "payment-order-cancelled", orderId: "o-5" });
    const kept = await deadLetter({ eventId: "e-5", consumer: "inventory-order-cancelled", orderId: "o-5" });
    const b = await deadLetter({ eventId: "e-6", consumer: "payment-order-cancelled", orderId: "o-6" });
    const { replayed, gone } = await store.replayAll({ consumer: "payment-order-cancelled" });
    expect(replayed.map((event) => [event.seq, event.eventId])).toEqual([
      [a, "e-5"],
      [b, "e-6"],
    ]);
    expect(gone).toEqual([]);
    expect((await store.list()).map((letter) => letter.seq)).toEqual([kept]);
  });

  it("drops a dead letter for good, and says so when it is not there", async () => {
    const seq = await deadLetter({ eventId: "e-7", consumer: "payment-order-cancelled", orderId: "o-7" });
    await store.drop(seq);
    expect(await store.list()).toEqual([]);
    await expect(store.drop(seq)).rejects.toBeInstanceOf(DeadLetterNotFound);
    await expect(store.drop(seq + 100)).rejects.toBeInstanceOf(DeadLetterNotFound);
    await expect(store.show(seq)).rejects.toBeInstanceOf(DeadLetterNotFound);
  });

  it("takes an event's id from the msgID of a dead letter stored before the event id header existed", async () => {
    await deadLetter({ eventId: "e-8", consumer: "payment-order-cancelled", orderId: "o-8", legacy: true });
    expect((await store.list()).map((letter) => letter.eventId)).toEqual(["e-8"]);
  });

  it("names the stream when it does not exist", async () => {
    const missing = await DeadLetterStore.open(js, "NO_SUCH_DEAD_LETTERS");
    await expect(missing.list()).rejects.toThrow(/no stream NO_SUCH_DEAD_LETTERS here/);
  });
});
