import { create } from "@bufbuild/protobuf";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import type { JetStreamClient } from "@nats-io/jetstream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type EventStreams, enqueueEvent, OutboxRelay } from "../src/index.ts";
import { type EventHarness, log, startHarness } from "./event-harness.ts";

// The outbox relay's sweep: a row JetStream refuses does not hold back the rows behind it, and a row's age is
// measured by the database's clock, against a real PostgreSQL and a real nats-server.

const streams: EventStreams = {
  events: { name: "KIT_SWEEP", subjects: ["sweep.>"] },
  deadLetters: { name: "KIT_SWEEP_DLQ", subjects: ["dlq.sweep.>"] },
  duplicateWindowMs: 1000,
};
let kit: EventHarness;

beforeAll(async () => {
  kit = await startHarness("kit_sweep", streams);
});

afterAll(async () => {
  await kit?.close();
});

beforeEach(async () => {
  await kit.orm.em.getConnection().execute(`delete from "outbox"`);
});

/** Commits one event in a transaction of its own; returns its id. */
function commitEvent(orderId: string): Promise<string> {
  return kit.orm.em.fork().transactional(async (em) =>
    enqueueEvent(em, {
      subject: "sweep.order.created",
      schema: OrderCreatedSchema,
      message: create(OrderCreatedSchema, { orderId, customerId: "c1" }),
      correlationId: orderId,
    }),
  );
}

/** A JetStream client whose publishes of the given event ids fail. */
function refusing(eventIds: string[], why: string): JetStreamClient {
  const js = Object.create(kit.js) as JetStreamClient;
  js.publish = async (subject, payload, options) => {
    if (options?.msgID && eventIds.includes(options.msgID)) throw new Error(why);
    return kit.js.publish(subject, payload, options);
  };
  return js;
}

interface RowState {
  id: string;
  published: boolean;
  publish_attempts: number;
  last_error: string | null;
  waits: boolean;
}

async function rowsOf(ids: string[]): Promise<RowState[]> {
  const rows = await kit.orm.em.getConnection().execute<RowState[]>(
    `select "id", "published_at" is not null as "published", "publish_attempts", "last_error",
      "retry_at" > now() as "waits" from "outbox" where "id" in (${ids.map(() => "?").join(", ")}) order by "created_at"`,
    ids,
  );
  return rows;
}

describe("the outbox sweep", () => {
  it("publishes the rows behind a row JetStream keeps refusing; that one waits, with its error", async () => {
    const bad = await commitEvent("refused");
    const good = [await commitEvent("good-1"), await commitEvent("good-2"), await commitEvent("good-3")];
    const relay = new OutboxRelay(kit.orm, refusing([bad], "maximum payload exceeded"), log, { batchSize: 2 });
    // The first sweep takes the refused row and one behind it; the second, the two left.
    expect(await relay.publishBatch()).toBe(1);
    expect(await relay.publishBatch()).toBe(2);
    expect(await rowsOf([bad, ...good])).toEqual([
      { id: bad, published: false, publish_attempts: 1, last_error: "maximum payload exceeded", waits: true },
      ...good.map((id) => ({ id, published: true, publish_attempts: 0, last_error: null, waits: null })),
    ]);
  });

  it("blames no row when no publish got an answer (NATS away): the sweep fails and every row stays due", async () => {
    const ids = [await commitEvent("away-1"), await commitEvent("away-2")];
    const relay = new OutboxRelay(kit.orm, refusing(ids, "disconnected"), log);
    await expect(relay.publishBatch()).rejects.toThrow("disconnected");
    expect(
      (await rowsOf(ids)).map(({ published, publish_attempts, waits }) => ({ published, publish_attempts, waits })),
    ).toEqual(ids.map(() => ({ published: false, publish_attempts: 0, waits: null })));
    expect(await new OutboxRelay(kit.orm, kit.js, log).publishBatch()).toBe(2);
  });

  it("measures a row's age by the database's clock, not by the clock of the instance that wrote it", async () => {
    // The writing instance's clock is an hour late: by it, the row would look an hour old to every sweep.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() - 3_600_000);
    try {
      await commitEvent("late-clock");
    } finally {
      vi.useRealTimers();
    }
    const relay = new OutboxRelay(kit.orm, kit.js, log);
    expect(await relay.publishBatch(60_000)).toBe(0);
    expect(await relay.publishBatch()).toBe(1);
  });
});
