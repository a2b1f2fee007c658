import { randomUUID } from "node:crypto";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { applyOnce, type EventHandler, OutboxEvent, openDatabase } from "@mesh/kit";
import { createTestDatabase } from "@mesh/kit/testing";
import {
  InventoryReleasedSchema,
  InventoryReservedSchema,
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { entities, migrations, Product, Reservation } from "../src/db/entities.ts";
import type { Line } from "../src/domain/stock.ts";
import { onOrderCancelled, onOrderConfirmed, onOrderCreated } from "../src/events/consumers.ts";

// Inventory's saga steps against a real PostgreSQL, applied as the consumers apply them (applyOnce: inbox row and
// effect in one transaction), with two events of one order applied at once.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let orm: MikroORM;

beforeAll(async () => {
  database = await createTestDatabase(inject("databaseUrls").inventory, "inventory_races");
  // Enough connections for every transaction of a round to be open at once, so the pairs really overlap.
  orm = await openDatabase({ url: database.url, entities, migrations, log: pino({ level: "silent" }), poolSize: 48 });
});

afterAll(async () => {
  await orm?.close();
  await database?.drop();
});

/** Applies one event with a consumer's handler, as its consumer would; resolves whether the effect ran. */
function deliver<Desc extends DescMessage>(
  handler: EventHandler,
  schema: Desc,
  init: MessageInitShape<Desc> & { orderId: string },
  eventId: string = randomUUID(),
): Promise<boolean> {
  return applyOnce(
    orm,
    `inventory-${schema.typeName}`,
    {
      id: eventId,
      subject: schema.typeName,
      type: schema.typeName,
      correlationId: init.orderId,
      traceparent: undefined,
      deliveryCount: 1,
      payload: toBinary(schema, create(schema, init)),
    },
    handler,
  );
}

const created = (orderId: string, lines: Line[]) => deliver(onOrderCreated, OrderCreatedSchema, { orderId, lines });
const confirmed = (orderId: string) => deliver(onOrderConfirmed, OrderConfirmedSchema, { orderId });
const cancelled = (orderId: string, reason = "customer cancelled", eventId?: string) =>
  deliver(onOrderCancelled, OrderCancelledSchema, { orderId, reason }, eventId);

/** Products of one test (ids prefixed, so tests never share stock), each with this many units available. */
async function stockProducts(prefix: string, count: number, available: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  const em = orm.em.fork();
  for (const productId of ids) {
    em.create(Product, {
      productId,
      name: productId,
      description: "",
      priceMinor: 100,
      currency: "USD",
      available,
      reserved: 0,
      sold: 0,
    });
  }
  await em.flush();
  return ids;
}

/** Two or three lines over a few shared products, so concurrent orders contend for the same rows. */
function linesFor(products: string[], order: number): Line[] {
  const picked = products.filter((_, index) => (index + order) % 3 !== 0);
  return picked.map((productId, index) => ({ productId, quantity: 1 + ((order + index) % 4) }));
}

const reservationOf = (orderId: string) => orm.em.fork().findOneOrFail(Reservation, { orderId });

/** The events inventory wrote to its outbox for an order, decoded, by subject. */
async function outboxOf(orderId: string) {
  const rows = await orm.em.fork().find(OutboxEvent, { correlationId: orderId }, { orderBy: { createdAt: "asc" } });
  return {
    released: rows
      .filter((row) => row.subject === "shop.inventory.released")
      .map((row) => fromBinary(InventoryReleasedSchema, row.payload)),
    reserved: rows
      .filter((row) => row.subject === "shop.inventory.reserved")
      .map((row) => fromBinary(InventoryReservedSchema, row.payload)),
  };
}

const plain = (lines: readonly Line[]) => lines.map(({ productId, quantity }) => ({ productId, quantity }));

/**
 * Every product's counters agree with the reservations: reserved = the units of RESERVED lines, sold = the units of
 * COMMITTED lines, and nothing created or lost (available + reserved + sold = the initial stock).
 */
async function expectStockMatchesReservations(products: string[], initial: number) {
  const em = orm.em.fork();
  const reservations = await em.find(Reservation, {});
  const units = (status: string, productId: string) =>
    reservations
      .filter((reservation) => reservation.status === status)
      .flatMap((reservation) => reservation.lines)
      .filter((line) => line.productId === productId)
      .reduce((sum, line) => sum + line.quantity, 0);
  for (const product of await em.find(Product, { productId: { $in: products } })) {
    expect({ product: product.productId, reserved: product.reserved, sold: product.sold }).toEqual({
      product: product.productId,
      reserved: units("RESERVED", product.productId),
      sold: units("COMMITTED", product.productId),
    });
    expect(product.available + product.reserved + product.sold).toBe(initial);
  }
}

/** Settles every attempt; fails naming the errors (a broken check constraint, a duplicate key) if any threw. */
async function expectAllApplied(attempts: Promise<boolean>[]) {
  const outcomes = await Promise.allSettled(attempts);
  const errors = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [String(outcome.reason)] : []));
  expect(errors).toEqual([]);
  expect(outcomes.map((outcome) => outcome.status === "fulfilled" && outcome.value)).not.toContain(false);
}

const ORDERS = 20;

/** Waits for a trivial statement. */
async function roundTrip() {
  await orm.em.fork().getConnection().execute("select 1");
}

describe("inventory's saga steps under concurrency", () => {
  it("applies OrderConfirmed and OrderCancelled of one reserved order one after the other, never both on the held units", async () => {
    const initial = 1000;
    const products = await stockProducts("confirm-cancel", 4, initial);
    const orders = Array.from({ length: ORDERS }, (_, index) => ({
      orderId: randomUUID(),
      lines: linesFor(products, index),
    }));
    await expectAllApplied(orders.map((order) => created(order.orderId, order.lines)));
    await expectStockMatchesReservations(products, initial);

    // Started in both orders, so that either event gets ahead for some of the orders.
    await expectAllApplied(
      orders.flatMap((order, index) => {
        const pair = [() => confirmed(order.orderId), () => cancelled(order.orderId)];
        return (index % 2 ? pair.reverse() : pair).map((start) => start());
      }),
    );

    // Whichever came first, the cancel gave every unit back: released from held, or restocked after the sale.
    await expectStockMatchesReservations(products, initial);
    for (const order of orders) {
      expect((await reservationOf(order.orderId)).status).toBe("RELEASED");
      const { released } = await outboxOf(order.orderId);
      expect(released.map((event) => plain(event.lines))).toEqual([order.lines]);
    }
    const stock = await orm.em.fork().find(Product, { productId: { $in: products } });
    expect(stock.map((product) => [product.available, product.reserved, product.sold])).toEqual(
      products.map(() => [initial, 0, 0]),
    );
  });

  it("never leaves stock held for an order whose OrderCreated and OrderCancelled are applied at once", async () => {
    const initial = 1000;
    const products = await stockProducts("create-cancel", 3, initial);
    const orders = Array.from({ length: ORDERS }, (_, index) => ({
      orderId: randomUUID(),
      lines: linesFor(products, index),
    }));

    // The event started first tends to get ahead: OrderCreated for half the orders, OrderCancelled (with a head start
    // of a round trip, as its first write comes a statement later) for the others, so both races are run.
    await expectAllApplied(
      orders.flatMap((order, index) => {
        const create = () => created(order.orderId, order.lines);
        if (index % 2) return [create(), cancelled(order.orderId)];
        return [cancelled(order.orderId), roundTrip().then(create)];
      }),
    );

    await expectStockMatchesReservations(products, initial);
    for (const order of orders) {
      expect((await reservationOf(order.orderId)).status).toBe("RELEASED");
      // Reserved and then released, or cancelled before anything was held: one answer to the cancel either way.
      const { released, reserved } = await outboxOf(order.orderId);
      expect(released.map((event) => plain(event.lines))).toEqual([reserved.length ? order.lines : []]);
    }
    const stock = await orm.em.fork().find(Product, { productId: { $in: products } });
    expect(stock.map((product) => product.reserved)).toEqual(products.map(() => 0));
  });

  it("records a cancel whose reason fills the column, before and after the reservation", async () => {
    const [product = ""] = await stockProducts("long-reason", 1, 10);
    const reason = "r".repeat(1024);

    const early = randomUUID();
    expect(await cancelled(early, reason)).toBe(true);
    const remembered = await reservationOf(early);
    expect(Array.from(remembered.reason)).toHaveLength(1024);
    expect(remembered.reason).toMatch(/^cancelled before reservation: r+…$/);

    const late = randomUUID();
    expect(await created(late, [{ productId: product, quantity: 2 }])).toBe(true);
    expect(await cancelled(late, `${reason}${reason}`)).toBe(true);
    const released = await reservationOf(late);
    expect(released.status).toBe("RELEASED");
    expect(Array.from(released.reason)).toHaveLength(1024);
    await expectStockMatchesReservations([product], 10);
  });

  it("answers every OrderCancelled with exactly one InventoryReleased, whatever was held", async () => {
    const [product = ""] = await stockProducts("answers", 1, 10);
    const line = { productId: product, quantity: 3 };
    const releasedLines = async (orderId: string) =>
      (await outboxOf(orderId)).released.map((event) => plain(event.lines));

    const neverReserved = randomUUID();
    await cancelled(neverReserved);
    expect(await releasedLines(neverReserved)).toEqual([[]]);

    const rejected = randomUUID();
    await created(rejected, [{ productId: `${product}-unknown`, quantity: 1 }]);
    expect((await reservationOf(rejected)).status).toBe("REJECTED");
    await cancelled(rejected);
    expect(await releasedLines(rejected)).toEqual([[]]);

    const held = randomUUID();
    await created(held, [line]);
    await cancelled(held);
    expect(await releasedLines(held)).toEqual([[line]]);
    // Another cancel of the order (a second event) finds it released: answered, with nothing more given back.
    await cancelled(held);
    const answers = await releasedLines(held);
    expect(answers).toHaveLength(2);
    expect(answers).toEqual(expect.arrayContaining([[line], []]));

    const sold = randomUUID();
    await created(sold, [line]);
    await confirmed(sold);
    const eventId = randomUUID();
    expect(await cancelled(sold, "refund", eventId)).toBe(true);
    // The same event again (a redelivery) is absorbed by the inbox: no second answer.
    expect(await cancelled(sold, "refund", eventId)).toBe(false);
    expect(await releasedLines(sold)).toEqual([[line]]);

    await expectStockMatchesReservations([product], 10);
  });
});
