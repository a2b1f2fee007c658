import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type EntityManager, type MikroORM } from "@mikro-orm/postgresql";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { inject } from "vitest";
import { type EventStreams, ensureStreams, envelopeHeaders, handleEvent, openDatabase } from "../src/index.ts";
import { createTestDatabase } from "../src/testing/index.ts";

// What the kit's event tests share: a database of their own with a tally table, a NATS connection, the streams.

const Tally = defineEntity({
  name: "Tally",
  tableName: "tally",
  properties: (p) => ({ orderId: p.string().primary(), applied: p.integer() }),
});

class CreateTally extends Migration {
  override async up() {
    this.addSql(`create table "tally" ("order_id" varchar(255) primary key, "applied" int not null)`);
  }
}

export const log = pino({ level: "silent" });

/** Counts one application per event into the tally of its order. */
export const countIt = handleEvent(OrderCreatedSchema, async (em: EntityManager, message) => {
  const tally = await em.findOne(Tally, { orderId: message.orderId });
  if (tally) tally.applied++;
  else em.create(Tally, { orderId: message.orderId, applied: 1 });
});

export async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(50);
  }
}

export interface EventHarness {
  orm: MikroORM;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  streams: EventStreams;
  /** How many times the events of an order were applied. */
  tallyOf(orderId: string): Promise<number>;
  /** Publishes an OrderCreated of the order on the subject, as the relay would, with the event id given. */
  publishEvent(subject: string, eventId: string, orderId: string): Promise<void>;
  /** The dead letters stored on a dead-letter subject, oldest first. */
  deadLetters(subject: string): Promise<StoredMsg[]>;
  close(): Promise<void>;
}

/** A database of its own (named after prefix) and the streams, on the test run's PostgreSQL and NATS. */
export async function startHarness(prefix: string, streams: EventStreams): Promise<EventHarness> {
  const database = await createTestDatabase(inject("databaseUrls").order, prefix);
  const orm = await openDatabase({
    url: database.url,
    entities: [Tally],
    migrations: [{ name: "tally", class: CreateTally }],
    log,
  });
  const nc = await connect({ servers: inject("natsUrl") });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, streams);
  return {
    orm,
    nc,
    js,
    jsm,
    streams,
    tallyOf: async (orderId) => (await orm.em.fork().findOne(Tally, { orderId }))?.applied ?? 0,
    async publishEvent(subject, eventId, orderId) {
      const headers = envelopeHeaders({ eventId, type: OrderCreatedSchema.typeName, correlationId: orderId });
      const payload = toBinary(OrderCreatedSchema, create(OrderCreatedSchema, { orderId, customerId: "c1" }));
      await js.publish(subject, payload, { msgID: eventId, headers });
    },
    async deadLetters(subject) {
      const { state } = await jsm.streams.info(streams.deadLetters.name);
      const letters: StoredMsg[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const stored = await jsm.streams.getMessage(streams.deadLetters.name, { seq });
        if (stored?.subject === subject) letters.push(stored);
      }
      return letters;
    },
    async close() {
      await nc.close();
      await orm.close();
      await database.drop();
    },
  };
}
