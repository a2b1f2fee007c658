import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { envelopeHeaders } from "@mesh/kit";
import { OrderCancelledSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { type Order, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentStatus } from "@mesh/proto/shop/payment/v1/payment_pb";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkInvariants, queryRows } from "./invariants.ts";
import { type ShopMesh, startShopMesh } from "./shop-mesh.ts";

// Money at the gateway against what payment records, on real parts (the shop harness: nats-server, a PostgreSQL
// database per service, sidecars): a charge whose answer is lost after the gateway took the money, and an
// operator's refund racing the order's cancel. After every scenario, every capture the gateway holds belongs to a
// confirmed order or was refunded, and none was refunded twice.

const GOOD_CARD = "4242424242424242";
/** How long payment waits for one gateway call here: short, so that an answer can come after it. */
const GATEWAY_TIMEOUT_MS = 1000;
/** The gateway captures, then answers this late: well after payment stopped waiting. */
const ANSWER_LATE_MS = 3000;

let shop: ShopMesh;
const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));

beforeAll(async () => {
  shop = await startShopMesh({ sagaTimeoutMs: 15_000, paymentGatewayTimeoutMs: GATEWAY_TIMEOUT_MS });
}, 60_000);

afterAll(async () => {
  await shop?.stop();
});

/** What is wrong with the gateway's money: a capture of an order that is not confirmed and was not refunded, and so on. */
async function moneyProblems(): Promise<string[]> {
  const orders = await queryRows<{ order_id: string; status: string }>(
    shop.databaseUrls.order,
    "select order_id, status from orders",
  );
  const confirmed = new Set(orders.filter((order) => order.status === "CONFIRMED").map((order) => order.order_id));
  const problems: string[] = [];
  for (const charge of shop.provider.ledger()) {
    const orderId = charge.idempotencyKey.replace(/^charge-/, "");
    if (charge.refunds > 1) problems.push(`the capture of order ${orderId} was refunded ${charge.refunds} times`);
    if (!charge.refunded && !confirmed.has(orderId))
      problems.push(`the capture of order ${orderId} is kept, but the order is not confirmed`);
    if (charge.refunded && confirmed.has(orderId)) problems.push(`confirmed order ${orderId} was refunded`);
  }
  return problems;
}

afterEach(async () => {
  const problems = async () => [
    ...(await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger())).violations,
    ...(await moneyProblems()),
  ];
  let found = await problems();
  const deadline = Date.now() + 15_000;
  while (found.length && Date.now() < deadline) {
    await sleep(200);
    found = await problems();
  }
  expect(found).toEqual([]);
}, 30_000);

async function place(card?: { cardToken: string; cardLast4: string }): Promise<Order> {
  const { order } = await shop.order.createOrder({
    requestId: randomUUID(),
    customerId: "alice",
    lines: [{ productId: "sku-mug", quantity: 1 }],
    ...(card ?? (await shop.tokenize(GOOD_CARD))),
    currency: "USD",
  });
  return order as Order;
}

async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${String(value)} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

const settled = (orderId: string) =>
  until(
    `order ${orderId}`,
    async () => (await shop.order.getOrder({ orderId })).order as Order,
    (order) => order.status === OrderStatus.CONFIRMED || order.status === OrderStatus.CANCELLED,
  );

/** The gateway's capture of an order's charge, if it made one. */
const captureOf = (orderId: string) =>
  shop.provider.ledger().find((charge) => charge.idempotencyKey === `charge-${orderId}`);

const paymentStatuses = async (orderId: string) =>
  (await shop.payment.listPayments({ orderId })).payments.map((payment) => payment.status);

/** How many events of a subject payment has written for an order (its outbox keeps every one). */
async function paymentEvents(orderId: string, subject: string): Promise<number> {
  const rows = await queryRows<{ count: string }>(
    shop.databaseUrls.payment,
    "select count(*) from outbox where subject = $1 and correlation_id = $2",
    [subject, orderId],
  );
  return Number(rows[0]?.count);
}

describe("a charge whose answer is lost after the gateway captured", () => {
  it("is refunded when the order is cancelled before payment learns the outcome", async () => {
    shop.provider.behaviour.answerLateMs = ANSWER_LATE_MS;
    try {
      const placed = await place();
      // The money is taken; payment is still waiting for the answer, which comes after its deadline.
      await until("the capture", () => captureOf(placed.orderId), Boolean);
      // The charge's answer is already on its way, late; the refund's may come in time.
      shop.provider.behaviour.answerLateMs = 0;
      await shop.order.cancelOrder({ orderId: placed.orderId, reason: "changed my mind" });
      const order = await settled(placed.orderId);
      expect(order.status).toBe(OrderStatus.CANCELLED);
      await until(
        "the refund at the gateway",
        () => captureOf(placed.orderId)?.refunds,
        (refunds) => refunds === 1,
      );
      expect(await paymentStatuses(placed.orderId)).toEqual([PaymentStatus.REFUNDED]);
    } finally {
      shop.provider.behaviour.answerLateMs = 0;
    }
  });

  it("confirms the order, with one capture, when nothing cancels it", async () => {
    shop.provider.behaviour.answerLateMs = ANSWER_LATE_MS;
    try {
      const placed = await place();
      const order = await settled(placed.orderId);
      expect(order.status).toBe(OrderStatus.CONFIRMED);
      const captures = shop.provider.ledger().filter((charge) => charge.idempotencyKey === `charge-${order.orderId}`);
      expect(captures.map((charge) => charge.refunded)).toEqual([false]);
      expect(await paymentStatuses(order.orderId)).toEqual([PaymentStatus.CAPTURED]);
    } finally {
      shop.provider.behaviour.answerLateMs = 0;
    }
  });
});

describe("an operator's refund and the order's cancel at once", () => {
  it("refund the payment once at the gateway and announce it once", async () => {
    const order = await settled((await place()).orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    const [payment] = (await shop.payment.listPayments({ orderId: order.orderId })).payments;
    // A slow gateway: the two refunds are in flight together.
    shop.provider.behaviour.latencyMs = 500;
    try {
      const [refund] = await Promise.all([
        shop.payment.refund({ paymentId: payment?.paymentId as string, reason: "goodwill" }),
        shop.order.cancelOrder({ orderId: order.orderId, reason: "changed my mind" }),
      ]);
      expect(refund.payment?.status).toBe(PaymentStatus.REFUNDED);
      expect((await settled(order.orderId)).status).toBe(OrderStatus.CANCELLED);
      // The cancel's step at payment is done (its event applied) before the events are counted.
      const [cancelled] = await queryRows<{ id: string }>(
        shop.databaseUrls.order,
        "select id from outbox where subject = 'shop.order.cancelled' and correlation_id = $1",
        [order.orderId],
      );
      await until(
        "payment's cancel step",
        async () =>
          (
            await queryRows(
              shop.databaseUrls.payment,
              "select 1 from inbox where consumer = 'payment-order-cancelled' and event_id = $1",
              [cancelled?.id],
            )
          ).length,
        (applied) => applied === 1,
      );
    } finally {
      shop.provider.behaviour.latencyMs = 0;
    }
    expect(captureOf(order.orderId)).toMatchObject({ refunded: true, refunds: 1 });
    expect(await paymentEvents(order.orderId, "shop.payment.refunded")).toBe(1);
    expect(await paymentStatuses(order.orderId)).toEqual([PaymentStatus.REFUNDED]);
  });
});

describe("an operator's refund whose answer is lost", () => {
  it("is finished by payment: the order ends CANCELLED, refunded once, never left CAPTURED", async () => {
    const order = await settled((await place()).orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    const [payment] = (await shop.payment.listPayments({ orderId: order.orderId })).payments;
    shop.provider.behaviour.answerLateMs = ANSWER_LATE_MS;
    let refund: Awaited<ReturnType<typeof shop.payment.refund>>;
    try {
      // The gateway refunds, but payment stops waiting first: the refund is kept, not rolled back.
      refund = await shop.payment.refund({ paymentId: payment?.paymentId as string, reason: "goodwill" });
    } finally {
      shop.provider.behaviour.answerLateMs = 0;
    }
    expect(refund.payment?.status).toBe(PaymentStatus.REFUNDING);
    // Still CONFIRMED until payment's own retry reports the refund; then cancelled, its stock back.
    await until(
      "the order cancelled",
      async () => (await shop.order.getOrder({ orderId: order.orderId })).order?.status,
      (status) => status === OrderStatus.CANCELLED,
    );
    await until(
      "the payment refunded",
      () => paymentStatuses(order.orderId),
      (statuses) => statuses.every((status) => status === PaymentStatus.REFUNDED),
    );
    expect(captureOf(order.orderId)).toMatchObject({ refunded: true, refunds: 1 });
    expect(await paymentEvents(order.orderId, "shop.payment.refunded")).toBe(1);
  });
});

/** An OrderCancelled as the order service publishes it, for an order it never had. */
async function publishOrderCancelled(orderId: string, cardToken: string): Promise<void> {
  const nc = await connect({ servers: shop.natsUrl });
  try {
    const eventId = randomUUID();
    const message = create(OrderCancelledSchema, {
      orderId,
      reason: "stock rejected",
      refundRequired: false,
      cardToken,
    });
    await jetstream(nc).publish("shop.order.cancelled", toBinary(OrderCancelledSchema, message), {
      msgID: eventId,
      headers: envelopeHeaders({ eventId, type: OrderCancelledSchema.typeName, correlationId: orderId }),
    });
  } finally {
    await nc.close();
  }
}

describe("a card token that two orders named", () => {
  it("stays with the order whose charge is waiting for the gateway when the other order is cancelled", async () => {
    const card = await shop.tokenize(GOOD_CARD);
    shop.provider.behaviour.failureRate = 1;
    let placed: Order;
    try {
      placed = await place(card);
      await until(
        "stock reserved",
        async () => (await shop.order.getOrder({ orderId: placed.orderId })).order?.timeline.length ?? 0,
        (steps) => steps >= 2,
      );
      await sleep(1000); // payment's first try of the charge has failed meanwhile: it waits for the gateway
      // Another order that named the same token (as the order service allowed before it refused a second use).
      const other = randomUUID();
      await publishOrderCancelled(other, card.cardToken);
      await until(
        "the other order's cancel at payment",
        async () =>
          (await queryRows(shop.databaseUrls.payment, "select 1 from payment where order_id = $1", [other])).length,
        (rows) => rows === 1,
      );
    } finally {
      shop.provider.behaviour.failureRate = 0;
    }
    const order = await settled(placed.orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    expect(await paymentStatuses(order.orderId)).toEqual([PaymentStatus.CAPTURED]);
  });
});
