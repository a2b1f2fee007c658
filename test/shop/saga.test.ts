import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { ReservationStatus } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { type Order, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentStatus } from "@mesh/proto/shop/payment/v1/payment_pb";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { checkInvariants } from "./invariants.ts";
import { type ShopMesh, startShopMesh } from "./shop-mesh.ts";

// The order saga end to end, on a private nats-server and a PostgreSQL database per service; the services call
// each other only through sidecars. After every scenario, the invariants must hold.
const GOOD_CARD = "4242424242424242";
const DECLINED_CARD = "4000000000000002";
// Long enough for a saga to outlast a NATS restart on a busy machine, short enough to test the deadline.
const SAGA_TIMEOUT_MS = 6000;

let shop: ShopMesh;
const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));

beforeAll(async () => {
  shop = await startShopMesh({ sagaTimeoutMs: SAGA_TIMEOUT_MS });
}, 60_000);

afterAll(async () => {
  await shop?.stop();
});

afterEach(async () => {
  // Quiescence first: every order terminal and the books balanced, or the violations after 15 s.
  let report = await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger());
  const deadline = Date.now() + 15_000;
  while (report.violations.length && Date.now() < deadline) {
    await sleep(200);
    report = await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger());
  }
  expect(report.violations).toEqual([]);
}, 30_000);

async function place(lines: { productId: string; quantity: number }[], cardNumber = GOOD_CARD) {
  const { order } = await shop.order.createOrder({
    requestId: randomUUID(),
    customerId: "alice",
    lines,
    ...(await shop.tokenize(cardNumber)),
    currency: "USD",
  });
  return order as Order;
}

/** The order once it is in one of `statuses`, asked every pollMs; fails after timeoutMs. */
async function reaches(orderId: string, statuses: OrderStatus[], timeoutMs = 10_000, pollMs = 50): Promise<Order> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { order } = await shop.order.getOrder({ orderId });
    if (order && statuses.includes(order.status)) return order;
    if (Date.now() > deadline)
      throw new Error(`order ${orderId} still ${OrderStatus[order?.status ?? 0]} after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

const settled = (orderId: string, timeoutMs?: number, pollMs?: number) =>
  reaches(orderId, [OrderStatus.CONFIRMED, OrderStatus.CANCELLED], timeoutMs, pollMs);

async function available(productId: string): Promise<bigint | undefined> {
  const { stocks } = await shop.inventory.getStock({ productIds: [productId] });
  return stocks[0]?.available;
}

/** The triggers of the timeline's steps up to the one that made the order CANCELLED. */
function triggersUntilCancelled(order: Order): string[] {
  const last = order.timeline.findIndex((step) => step.toStatus === OrderStatus.CANCELLED);
  return order.timeline.slice(0, last + 1).map((step) => step.trigger);
}

describe("the inventory API", () => {
  it("pages the catalogue, adjusts stock once per adjustment id, and refuses to go below zero", async () => {
    const first = await shop.inventory.listProducts({ pageSize: 2 });
    const second = await shop.inventory.listProducts({ pageSize: 2, pageToken: first.nextPageToken });
    expect(first.products.map((product) => product.productId)).toEqual(["sku-espresso", "sku-filter"]);
    expect(second.products.map((product) => product.productId)).toEqual(["sku-grinder", "sku-kettle"]);
    const adjustment = { adjustmentId: randomUUID(), productId: "sku-kettle", delta: 5n, reason: "delivery" };
    const once = await shop.inventory.adjustStock(adjustment);
    const again = await shop.inventory.adjustStock(adjustment);
    expect(again.stock?.available).toBe(once.stock?.available);
    await shop.inventory.adjustStock({ ...adjustment, adjustmentId: randomUUID(), delta: -5n, reason: "recount" });
    const tooMany = shop.inventory.adjustStock({
      ...adjustment,
      adjustmentId: randomUUID(),
      delta: -1000n,
      reason: "loss",
    });
    await expect(tooMany).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.FailedPrecondition && error.rawMessage.startsWith("cannot remove 1000 units of sku-kettle"),
    );
    const longReason = shop.inventory.adjustStock({
      ...adjustment,
      adjustmentId: randomUUID(),
      reason: "x".repeat(1025),
    });
    await expect(longReason).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === "reason is longer than 1024 characters",
    );
    await expect(shop.inventory.getStock({ productIds: ["sku-none"] })).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.NotFound && error.rawMessage === "unknown products: sku-none",
    );
  });
});

describe("the order saga", () => {
  it("confirms an order: stock reserved then committed, payment captured, every step in the timeline", async () => {
    const placed = await place([
      { productId: "sku-mug", quantity: 2 },
      { productId: "sku-filter", quantity: 1 },
    ]);
    expect(placed.status).toBe(OrderStatus.PENDING);
    expect(placed.total?.amountMinor).toBe(BigInt(2 * 899 + 499));
    const order = await settled(placed.orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    expect(order.timeline.map((step) => step.trigger)).toEqual([
      "CreateOrder",
      "shop.inventory.reserved",
      "shop.payment.completed",
    ]);
    const { payments } = await shop.payment.listPayments({ orderId: order.orderId });
    expect(payments.map((payment) => payment.status)).toEqual([PaymentStatus.CAPTURED]);
    await sleep(300);
    const { reservation } = await shop.inventory.getReservation({ orderId: order.orderId });
    expect(reservation?.status).toBe(ReservationStatus.COMMITTED);
  });

  it("cancels an order whose stock cannot be reserved, holding nothing", async () => {
    const order = await settled((await place([{ productId: "sku-kettle", quantity: 11 }])).orderId);
    expect(order.status).toBe(OrderStatus.CANCELLED);
    expect(order.cancelReason).toBe("stock rejected: insufficient stock for sku-kettle: 10 available, 11 requested");
  });

  it("cancels an order whose payment is declined, and releases its reservation", async () => {
    const order = await settled((await place([{ productId: "sku-grinder", quantity: 1 }], DECLINED_CARD)).orderId);
    expect(order.status).toBe(OrderStatus.CANCELLED);
    expect(order.cancelReason).toBe("payment failed: card_declined");
    const { payments } = await shop.payment.listPayments({ orderId: order.orderId });
    expect(payments.map((payment) => payment.status)).toEqual([PaymentStatus.DECLINED]);
  });

  it("refunds and releases a confirmed order the customer cancels", async () => {
    const order = await settled((await place([{ productId: "sku-espresso", quantity: 3 }])).orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    await sleep(200);
    const { order: cancelling } = await shop.order.cancelOrder({ orderId: order.orderId, reason: "changed my mind" });
    expect(cancelling?.status).toBe(OrderStatus.CANCELLING);
    const cancelled = await settled(order.orderId);
    expect(cancelled.cancelReason).toBe("changed my mind");
    expect(cancelled.timeline.map((step) => step.trigger)).toEqual(
      expect.arrayContaining(["CancelOrder", "shop.payment.refunded", "shop.inventory.released"]),
    );
    const { payments } = await shop.payment.listPayments({ orderId: order.orderId });
    expect(payments.map((payment) => payment.status)).toEqual([PaymentStatus.REFUNDED]);
  });

  it("cancels no order for a short outage of the card gateway: the charge waits for it and goes through", async () => {
    shop.provider.behaviour.failureRate = 1;
    let order: Order;
    try {
      order = await place([{ productId: "sku-mug", quantity: 1 }]);
      // Long enough for every quick retry (the sidecar's, and payment's first deliveries) to fail.
      await sleep(2500);
      const { order: meanwhile } = await shop.order.getOrder({ orderId: order.orderId });
      expect(meanwhile?.status).toBe(OrderStatus.PENDING);
    } finally {
      shop.provider.behaviour.failureRate = 0;
    }
    const confirmed = await settled(order.orderId);
    expect(confirmed.status).toBe(OrderStatus.CONFIRMED);
    const { payments } = await shop.payment.listPayments({ orderId: order.orderId });
    expect(payments.map((payment) => payment.status)).toEqual([PaymentStatus.CAPTURED]);
  });

  it("cancels and compensates a saga stalled past its deadline", async () => {
    // The gateway answers after the deadline (and after the payment service's own timeout, so that call's outcome
    // is unknown to payment): the saga stalls, and the order's sweeper cancels it.
    shop.provider.behaviour.latencyMs = SAGA_TIMEOUT_MS + 500;
    let placed: Order;
    try {
      placed = await place([{ productId: "sku-mug", quantity: 1 }]);
      const cancelling = await reaches(placed.orderId, [OrderStatus.CANCELLING, OrderStatus.CANCELLED], 20_000);
      expect(cancelling.cancelReason).toBe("saga deadline passed");
    } finally {
      shop.provider.behaviour.latencyMs = 0;
    }
    // The gateway answering again, payment learns what became of the charge and answers the cancel.
    const order = await settled(placed.orderId, 20_000);
    expect(order.status).toBe(OrderStatus.CANCELLED);
    expect(order.cancelReason).toBe("saga deadline passed");
  }, 45_000);

  it("cancels a pending order through CANCELLING: it is CANCELLED only once inventory and payment have answered", async () => {
    const before = await available("sku-filter");
    // The gateway answers slowly: the charge is in flight when the customer cancels.
    shop.provider.behaviour.latencyMs = 1000;
    try {
      const placed = await place([{ productId: "sku-filter", quantity: 2 }]);
      const { order: cancelling } = await shop.order.cancelOrder({
        orderId: placed.orderId,
        reason: "found it cheaper",
      });
      expect(cancelling?.status).toBe(OrderStatus.CANCELLING);
      const order = await settled(placed.orderId, 20_000);
      expect(order.status).toBe(OrderStatus.CANCELLED);
      expect(order.cancelReason).toBe("found it cheaper");
      const answers = triggersUntilCancelled(order);
      expect(answers).toContain("shop.inventory.released");
      expect(answers.filter((trigger) => /^shop\.payment\.(refunded|failed)$/.test(trigger))).not.toEqual([]);
      expect(await available("sku-filter")).toBe(before);
    } finally {
      shop.provider.behaviour.latencyMs = 0;
    }
  }, 30_000);

  it("cancels a confirmed order that an operator refunds: its stock goes back and its payment stays REFUNDED", async () => {
    const before = await available("sku-kettle");
    const order = await settled((await place([{ productId: "sku-kettle", quantity: 2 }])).orderId);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    const { payments } = await shop.payment.listPayments({ orderId: order.orderId });
    await shop.payment.refund({ paymentId: payments[0]?.paymentId as string, reason: "goodwill" });
    const cancelled = await reaches(order.orderId, [OrderStatus.CANCELLED]);
    expect(cancelled.cancelReason).toBe("payment refunded");
    expect(triggersUntilCancelled(cancelled)).toEqual(
      expect.arrayContaining(["shop.payment.refunded", "shop.inventory.released"]),
    );
    expect(await available("sku-kettle")).toBe(before);
    const after = await shop.payment.listPayments({ orderId: order.orderId });
    expect(after.payments.map((payment) => payment.status)).toEqual([PaymentStatus.REFUNDED]);
  });

  it("keeps saga deadlines on the database's clock: a service clock that jumps an hour neither cancels nor delays", async () => {
    // The gateway answers after 1.5 s, well within the deadline; the saga must confirm although the clock of the
    // process running order jumps an hour ahead meanwhile (a clock step, or an instance whose clock is off).
    shop.provider.behaviour.latencyMs = 1500;
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    try {
      const placed = await place([{ productId: "sku-mug", quantity: 1 }]);
      vi.setSystemTime(vi.getRealSystemTime() + 3_600_000);
      expect((await settled(placed.orderId)).status).toBe(OrderStatus.CONFIRMED);
      // Placed while the clock is an hour ahead: its deadline is still SAGA_TIMEOUT_MS from now, real time.
      const skewed = await place([{ productId: "sku-mug", quantity: 1 }]);
      const deadlineMs = timestampDate(skewed.sagaDeadline as Timestamp).getTime();
      expect(Math.abs(deadlineMs - (vi.getRealSystemTime() + SAGA_TIMEOUT_MS))).toBeLessThan(2000);
      await settled(skewed.orderId);
    } finally {
      vi.useRealTimers();
      shop.provider.behaviour.latencyMs = 0;
    }
  }, 30_000);

  it("answers a repeated request_id with the first order, and rejects bad input precisely", async () => {
    const request = {
      requestId: randomUUID(),
      customerId: "bob",
      lines: [{ productId: "sku-mug", quantity: 1 }],
      ...(await shop.tokenize(GOOD_CARD)),
      currency: "USD",
    };
    const [first, second] = await Promise.all([shop.order.createOrder(request), shop.order.createOrder(request)]);
    expect(second.order?.orderId).toBe(first.order?.orderId);
    await settled(first.order?.orderId as string);
    const bad = shop.order.createOrder({
      ...request,
      requestId: randomUUID(),
      lines: [{ productId: "sku-nope", quantity: 1 }],
    });
    await expect(bad).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === 'lines[0].product_id: unknown product "sku-nope"',
    );
  });

  it("prices orders from its price list while inventory cannot be reached, and says so for a product the list lacks", async () => {
    await place([{ productId: "sku-mug", quantity: 1 }]); // a fresh price list: PRICE_LIST_MAX_AGE_MS is 5 s
    const placed = await shop.inventoryAway(async () => {
      const order = await place([{ productId: "sku-mug", quantity: 1 }]);
      const unknown = shop.order.createOrder(
        {
          requestId: randomUUID(),
          customerId: "alice",
          lines: [{ productId: "sku-nope", quantity: 1 }],
          ...(await shop.tokenize(GOOD_CARD)),
          currency: "USD",
        },
        { timeoutMs: 10_000 },
      );
      await expect(unknown).rejects.toSatisfy(
        (error: ConnectError) =>
          error.code === Code.Unavailable &&
          error.rawMessage.startsWith("inventory is not answering, cannot price the order: "),
      );
      return order;
    });
    expect(placed.total?.amountMinor).toBe(899n);
    expect((await settled(placed.orderId)).status).toBe(OrderStatus.CONFIRMED);
  });

  it("loses no order while NATS is down for a while: orders placed meanwhile complete once it is back", async () => {
    const placed: Order[] = [];
    await shop.restartNats(1000, async () => {
      for (let i = 0; i < 5; i++) placed.push(await place([{ productId: "sku-filter", quantity: 1 }]));
    });
    const finals = await Promise.all(placed.map((order) => settled(order.orderId, 30_000)));
    expect(finals.map((order) => order.status)).toEqual(Array(5).fill(OrderStatus.CONFIRMED));
  }, 60_000);

  it("survives a database restart: sagas caught in it and placed after it complete", async () => {
    const before = await place([{ productId: "sku-mug", quantity: 1 }]);
    await shop.restartPostgres(500);
    const after = await place([{ productId: "sku-mug", quantity: 1 }]);
    const finals = await Promise.all([before, after].map((order) => settled(order.orderId, 30_000)));
    expect(finals.map((order) => order.status)).toEqual([OrderStatus.CONFIRMED, OrderStatus.CONFIRMED]);
  }, 60_000);

  it("rides through a database restart: calls made while PostgreSQL is down wait for it within their deadline", async () => {
    const card = await shop.tokenize(GOOD_CARD);
    const restart = shop.restartPostgres(1500);
    await sleep(300); // PostgreSQL is stopping or down now
    const duringOutage = await Promise.all([
      shop.inventory.getStock({ productIds: ["sku-mug"] }, { timeoutMs: 10_000 }),
      shop.order.createOrder(
        {
          requestId: randomUUID(),
          customerId: "alice",
          lines: [{ productId: "sku-mug", quantity: 1 }],
          ...card,
          currency: "USD",
        },
        { timeoutMs: 10_000 },
      ),
    ]);
    await restart;
    expect(duringOutage[0].stocks.map((stock) => stock.productId)).toEqual(["sku-mug"]);
    expect((await settled(duringOutage[1].order?.orderId as string, 30_000)).status).toBe(OrderStatus.CONFIRMED);
  }, 60_000);

  it("never oversells: 500 orders placed at once against 20 grinders all end CONFIRMED or CANCELLED", async () => {
    const { stocks } = await shop.inventory.getStock({ productIds: ["sku-grinder"] });
    const before = Number(stocks[0]?.available);
    // A token pays for one order: one card each, tokenized before the crowd arrives at the order service at once.
    const cards = await Promise.all(Array.from({ length: 500 }, () => shop.tokenize(GOOD_CARD)));
    const placed = await Promise.all(
      cards.map((card, index) =>
        shop.order.createOrder({
          requestId: randomUUID(),
          customerId: `crowd-${index}`,
          lines: [{ productId: "sku-grinder", quantity: 1 }],
          ...card,
          currency: "USD",
        }),
      ),
    );
    // Polled gently: 500 callers asking every 50 ms would take the order database's connections from the sagas.
    // Most of the crowd is cancelled (rejected, or past the deadline while queued for the grinder's row), and each
    // cancel waits for both answers: on a busy machine the last ones end a minute after they were placed.
    const finals = await Promise.all(placed.map(({ order }) => settled(order?.orderId as string, 90_000, 500)));
    const confirmed = finals.filter((order) => order.status === OrderStatus.CONFIRMED).length;
    expect(confirmed).toBeLessThanOrEqual(before);
    expect(confirmed).toBeGreaterThan(0);
    expect(
      finals.every((order) => order.status === OrderStatus.CONFIRMED || order.status === OrderStatus.CANCELLED),
    ).toBe(true);
  }, 150_000);
});
