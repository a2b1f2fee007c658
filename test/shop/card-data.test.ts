import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, type ConnectError } from "@connectrpc/connect";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { type Order, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants, queryRows } from "./invariants.ts";
import { type ShopMesh, startShopMesh } from "./shop-mesh.ts";

// "A card number reaches the payment service only" (DESIGN.md, Security), checked where it could leak: after sagas
// of every ending, every JetStream message (headers and payload), every outbox row and every row of every table of
// the order and inventory databases are searched for the card numbers; payment keeps none once the sagas are over.

// Distinctive numbers (Luhn-valid), one per saga; the declined one is the simulated provider's test card.
const CARDS = {
  confirmed: "5105105105105100",
  declined: "4000000000000002",
  refunded: "4012888888881881",
  cancelledPending: "4111111111111111",
  rejected: "5555555555554444",
} as const;

let shop: ShopMesh;
const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));

beforeAll(async () => {
  shop = await startShopMesh({ sagaTimeoutMs: 10_000 });
}, 60_000);

afterAll(async () => {
  await shop?.stop();
});

async function placeThroughGateway(cardNumber: string, productId: string, quantity: number): Promise<Order> {
  const { order } = await shop.gateway.placeOrder({
    requestId: randomUUID(),
    customerId: "carla",
    lines: [{ productId, quantity }],
    cardNumber,
    currency: "USD",
  });
  return order as Order;
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

const statusOf = async (orderId: string) => (await shop.order.getOrder({ orderId })).order?.status;
const terminal = (status: OrderStatus | undefined) =>
  status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;

/** Every message of every stream, as text: subject, each header, and the payload bytes (latin1, byte for byte). */
async function everyJetStreamMessage(): Promise<string[]> {
  const nc = await connect({ servers: shop.nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const texts: string[] = [];
    for await (const stream of jsm.streams.list()) {
      const { first_seq: first, last_seq: last } = stream.state;
      for (let seq = first; seq <= last && last > 0; seq++) {
        const message = await jsm.streams.getMessage(stream.config.name, { seq }).catch(() => null);
        if (!message) continue;
        const headers = (message.header?.keys() ?? []).flatMap((key) =>
          message.header.values(key).map((value) => `${key}: ${value}`),
        );
        texts.push([message.subject, ...headers, Buffer.from(message.data).toString("latin1")].join("\n"));
      }
    }
    return texts;
  } finally {
    await nc.close();
  }
}

/** Every row of every table of a database's public schema, as JSON text (bytea as hex, so search for both forms). */
async function databaseDump(url: string): Promise<string[]> {
  const tables = await queryRows<{ table_name: string }>(
    url,
    "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
  );
  const rows: string[] = [];
  for (const { table_name: table } of tables) {
    const dumped = await queryRows<{ row: string }>(url, `select row_to_json(t)::text as row from "${table}" t`);
    rows.push(...dumped.map(({ row }) => `${table}: ${row}`));
  }
  return rows;
}

/** Every outbox row with its payload's bytes as latin1 text (how a protobuf string sits in them). */
async function outboxRows(url: string): Promise<string[]> {
  const rows = await queryRows<{ row: string; payload: Buffer }>(
    url,
    "select row_to_json(o)::text as row, payload from outbox o",
  );
  return rows.map(({ row, payload }) => `${row}\n${payload.toString("latin1")}`);
}

/** The texts that contain a card number in clear, or as the hex of its characters (a bytea column's JSON form). */
function leaks(texts: string[]): { card: string; text: string }[] {
  const found: { card: string; text: string }[] = [];
  for (const card of Object.values(CARDS)) {
    const hex = Buffer.from(card).toString("hex");
    for (const text of texts) if (text.includes(card) || text.includes(hex)) found.push({ card, text });
  }
  return found;
}

describe("card numbers stay with payment", () => {
  it("refuses a malformed card at the gateway, and a mistyped one at payment, without echoing it", async () => {
    const place = (cardNumber: string) => placeThroughGateway(cardNumber, "sku-mug", 1);
    await expect(place("4242-4242-4242-4242")).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === "card_number must be 16 digits",
    );
    await expect(place("4242424242424241")).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument &&
        error.rawMessage ===
          "the card could not be tokenized by payment: card_number fails the Luhn check (a mistyped digit?)",
    );
  });

  it("leaves no card number in any event, outbox row or order and inventory table after sagas of every ending", async () => {
    const confirmed = await placeThroughGateway(CARDS.confirmed, "sku-mug", 1);
    const declined = await placeThroughGateway(CARDS.declined, "sku-mug", 1);
    const refunded = await placeThroughGateway(CARDS.refunded, "sku-filter", 1);
    const cancelledPending = await placeThroughGateway(CARDS.cancelledPending, "sku-filter", 1);
    await shop.order.cancelOrder({ orderId: cancelledPending.orderId, reason: "changed my mind" });
    const rejected = await placeThroughGateway(CARDS.rejected, "sku-kettle", 1000); // more than the stock
    await until(
      "refunded order confirmed",
      () => statusOf(refunded.orderId),
      (s) => s === OrderStatus.CONFIRMED,
    );
    await shop.order.cancelOrder({ orderId: refunded.orderId, reason: "returned" });

    const placed = [confirmed, declined, refunded, cancelledPending, rejected];
    const finals = await Promise.all(
      placed.map((order) => until(`order ${order.orderId}`, () => statusOf(order.orderId), terminal)),
    );
    expect(finals).toEqual([
      OrderStatus.CONFIRMED,
      OrderStatus.CANCELLED,
      OrderStatus.CANCELLED,
      OrderStatus.CANCELLED,
      OrderStatus.CANCELLED,
    ]);
    // Payment erases a card when its order's charge is final or the order is cancelled: wait for the last event.
    await until(
      "sealed card numbers in payment",
      async () =>
        (await queryRows(shop.databaseUrls.payment, "select token from card where sealed_number is not null")).length,
      (count) => count === 0,
    );
    await until(
      "invariants",
      async () => (await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger())).violations,
      (violations) => violations.length === 0,
    );

    const messages = await everyJetStreamMessage();
    expect(messages.some((text) => text.startsWith("shop.inventory.reserved"))).toBe(true);
    expect(leaks(messages)).toEqual([]);
    for (const url of Object.values(shop.databaseUrls)) {
      const outbox = await outboxRows(url);
      expect(outbox.length).toBeGreaterThan(0);
      expect(leaks(outbox)).toEqual([]);
    }
    const orderDump = await databaseDump(shop.databaseUrls.order);
    const inventoryDump = await databaseDump(shop.databaseUrls.inventory);
    const paymentDump = await databaseDump(shop.databaseUrls.payment);
    expect(leaks([...orderDump, ...inventoryDump, ...paymentDump])).toEqual([]);

    // What remains instead: the last four digits, on the order and in payment's token store.
    for (const [order, card] of placed.map((each, index) => [each, Object.values(CARDS)[index] as string] as const)) {
      const { order: stored } = await shop.order.getOrder({ orderId: order.orderId });
      expect(stored?.cardLast4).toBe(card.slice(-4));
      expect(
        orderDump.some((row) => row.includes(order.orderId) && row.includes(`"card_last4":"${card.slice(-4)}"`)),
      ).toBe(true);
    }
    const cards = await queryRows<{ last4: string; sealed_number: Buffer | null; erased_at: Date | null }>(
      shop.databaseUrls.payment,
      "select last4, sealed_number, erased_at from card",
    );
    expect(cards.map((card) => card.last4).sort()).toEqual(
      Object.values(CARDS)
        .map((card) => card.slice(-4))
        .sort(),
    );
    expect(cards.every((card) => card.sealed_number === null && card.erased_at !== null)).toBe(true);
  }, 60_000);

  it("pays for one order with a token: another order with it is refused, a retry of the first is not", async () => {
    const card = await shop.tokenize("4242424242424242");
    const request = (requestId = randomUUID()) => ({
      requestId,
      customerId: "carla",
      lines: [{ productId: "sku-mug", quantity: 1 }],
      ...card,
      currency: "USD",
    });
    const usedToken = (error: ConnectError) =>
      error.code === Code.FailedPrecondition && error.rawMessage.startsWith("card_token was already used");
    const firstRequest = request();
    const first = (await shop.order.createOrder(firstRequest)).order as Order;
    await expect(shop.order.createOrder(request())).rejects.toSatisfy(usedToken);
    expect((await shop.order.createOrder(firstRequest)).order?.orderId).toBe(first.orderId);
    expect(await until("first order", () => statusOf(first.orderId), terminal)).toBe(OrderStatus.CONFIRMED);
    // Two orders racing with one fresh token: the database lets one of them have it.
    const fresh = await shop.tokenize("4242424242424242");
    const raced = await Promise.allSettled(
      [request(), request()].map((each) => shop.order.createOrder({ ...each, ...fresh })),
    );
    const won = raced.flatMap((result) => (result.status === "fulfilled" ? [result.value.order as Order] : []));
    const lost = raced.flatMap((result) => (result.status === "rejected" ? [result.reason as ConnectError] : []));
    expect(won).toHaveLength(1);
    expect(lost.every(usedToken)).toBe(true);
    await until("raced order", () => statusOf(won[0]?.orderId as string), terminal);
  }, 30_000);

  it("gives a repeated tokenization its first token, and refuses the same request_id for another card", async () => {
    const requestId = randomUUID();
    const first = await shop.payment.tokenizeCard({ requestId, cardNumber: CARDS.confirmed });
    const again = await shop.payment.tokenizeCard({ requestId, cardNumber: CARDS.confirmed });
    expect(again.cardToken).toBe(first.cardToken);
    expect(first.cardLast4).toBe("5100");
    await expect(shop.payment.tokenizeCard({ requestId, cardNumber: CARDS.refunded })).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.AlreadyExists && !error.rawMessage.includes(CARDS.refunded),
    );
  });
});
