import { DEMO_PRODUCTS } from "@mesh/inventory";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { SagaLab } from "./saga-lab.ts";

// What must hold once a saga has nothing left to do, read from each service's database and the gateway's ledger.

const rows = <T>(orm: MikroORM, sql: string) => orm.em.fork().getConnection().execute<T[]>(sql);

/** Every order decided, or parked for a person with a reason. */
async function undecidedOrders(lab: SagaLab): Promise<string[]> {
  const orders = await rows<{ order_id: string; status: string }>(lab.order.orm, "select order_id, status from orders");
  const parked = new Set(
    (
      await rows<{ order_id: string }>(
        lab.payment.orm,
        "select order_id from payment where status = 'REFUND_FAILED' and failure_reason <> ''",
      )
    ).map((row) => row.order_id),
  );
  return orders
    .filter((order) => order.status !== "CONFIRMED" && order.status !== "CANCELLED")
    .filter((order) => !(order.status === "CANCELLING" && parked.has(order.order_id)))
    .map((order) => `order ${order.order_id} ended ${order.status}`);
}

/** Per product: reserved and sold are exactly what the reservations hold, and no unit appeared or vanished. */
async function stockMismatches(lab: SagaLab): Promise<string[]> {
  const products = await rows<{ product_id: string; available: number; reserved: number; sold: number }>(
    lab.inventory.orm,
    "select product_id, available, reserved, sold from product",
  );
  const held = await rows<{ product_id: string; status: string; quantity: string }>(
    lab.inventory.orm,
    `select line->>'productId' as product_id, status, sum((line->>'quantity')::int) as quantity
       from reservation, jsonb_array_elements(lines) as line group by 1, 2`,
  );
  const sum = (productId: string, status: string) =>
    Number(held.find((row) => row.product_id === productId && row.status === status)?.quantity ?? 0);
  const problems: string[] = [];
  for (const product of products) {
    const initial = DEMO_PRODUCTS.find((each) => each.productId === product.product_id)?.available;
    if (product.reserved !== sum(product.product_id, "RESERVED"))
      problems.push(
        `${product.product_id}: reserved ${product.reserved}, RESERVED lines ${sum(product.product_id, "RESERVED")}`,
      );
    if (product.sold !== sum(product.product_id, "COMMITTED"))
      problems.push(
        `${product.product_id}: sold ${product.sold}, COMMITTED lines ${sum(product.product_id, "COMMITTED")}`,
      );
    if (product.available + product.reserved + product.sold !== initial)
      problems.push(`${product.product_id}: available + reserved + sold != ${initial}`);
  }
  return problems;
}

/**
 * Money: every capture the gateway kept belongs to a confirmed order (whose payment names it), every confirmed order
 * has exactly one, nothing was refunded twice, and a cancelled order holds neither a capture nor stock.
 */
async function moneyMismatches(lab: SagaLab): Promise<string[]> {
  const orders = await rows<{ order_id: string; status: string }>(lab.order.orm, "select order_id, status from orders");
  const payments = await rows<{ order_id: string; status: string; provider_charge_id: string }>(
    lab.payment.orm,
    "select order_id, status, provider_charge_id from payment",
  );
  const reservations = await rows<{ order_id: string; status: string }>(
    lab.inventory.orm,
    "select order_id, status from reservation",
  );
  const statusOf = new Map(orders.map((order) => [order.order_id, order.status]));
  const paymentByCharge = new Map(payments.map((payment) => [payment.provider_charge_id, payment]));
  const problems: string[] = [];
  const kept = new Map<string, number>();
  for (const charge of lab.provider.ledger()) {
    if (charge.refunds > 1) problems.push(`charge ${charge.chargeId} refunded ${charge.refunds} times`);
    if (charge.refunded) continue;
    const payment = paymentByCharge.get(charge.chargeId);
    const status = payment && statusOf.get(payment.order_id);
    if (payment && status === "CONFIRMED") kept.set(payment.order_id, (kept.get(payment.order_id) ?? 0) + 1);
    else
      problems.push(`the gateway kept charge ${charge.chargeId} for ${payment ? `a ${status} order` : "no payment"}`);
  }
  for (const payment of payments.filter((each) => each.status === "PENDING" || each.status === "REFUNDING"))
    problems.push(`the payment of order ${payment.order_id} was left ${payment.status}`);
  for (const order of orders) {
    if (order.status === "CONFIRMED" && kept.get(order.order_id) !== 1)
      problems.push(`confirmed order ${order.order_id} has ${kept.get(order.order_id) ?? 0} captures kept`);
    if (order.status !== "CANCELLED") continue;
    if (payments.some((payment) => payment.order_id === order.order_id && payment.status === "CAPTURED"))
      problems.push(`cancelled order ${order.order_id} has a CAPTURED payment`);
    const reservation = reservations.find((each) => each.order_id === order.order_id);
    if (reservation?.status === "RESERVED" || reservation?.status === "COMMITTED")
      problems.push(`cancelled order ${order.order_id} holds stock (${reservation.status})`);
  }
  return problems;
}

export async function sagaViolations(lab: SagaLab): Promise<string[]> {
  return [...(await undecidedOrders(lab)), ...(await stockMismatches(lab)), ...(await moneyMismatches(lab))];
}
