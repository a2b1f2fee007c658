import pg from "pg";

// The saga's invariants (DESIGN.md), read straight from each service's own database.

/** Runs one query on its own connection: for checks from outside the services. */
export async function queryRows<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface InvariantReport {
  violations: string[];
  orders: { confirmed: number; cancelled: number; other: number };
}

/**
 * Every order ends CONFIRMED or CANCELLED; no order has more than one payment; a confirmed order has exactly one captured payment and a committed
 * reservation; a cancelled one has no captured payment left and no stock held; for every product
 * available + reserved + sold = initial stock (seed plus adjustments); the gateway captured each confirmed order once.
 */
export async function checkInvariants(
  urls: { order: string; inventory: string; payment: string },
  initialStock: Map<string, number>,
  /** The gateway's captures, when its ledger can be read (the in-process provider); else that check is skipped. */
  gatewayCaptures?: () => { refunded: boolean }[],
): Promise<InvariantReport> {
  const violations: string[] = [];
  const orders = await queryRows<{ order_id: string; status: string }>(
    urls.order,
    "select order_id, status from orders",
  );
  const payments = await queryRows<{ order_id: string; status: string }>(
    urls.payment,
    "select order_id, status from payment",
  );
  const reservations = await queryRows<{ order_id: string; status: string }>(
    urls.inventory,
    "select order_id, status from reservation",
  );
  const products = await queryRows<{ product_id: string; available: number; reserved: number; sold: number }>(
    urls.inventory,
    "select product_id, available, reserved, sold from product",
  );
  const paymentsByOrder = new Map<string, string[]>();
  for (const payment of payments)
    paymentsByOrder.set(payment.order_id, [...(paymentsByOrder.get(payment.order_id) ?? []), payment.status]);
  const reservationOf = new Map(reservations.map((reservation) => [reservation.order_id, reservation.status]));
  const counts = { confirmed: 0, cancelled: 0, other: 0 };
  for (const [orderId, statuses] of paymentsByOrder)
    if (statuses.length > 1)
      violations.push(`order ${orderId} has ${statuses.length} payments (${statuses.join(", ")})`);
  for (const order of orders) {
    const captured = (paymentsByOrder.get(order.order_id) ?? []).filter((status) => status === "CAPTURED").length;
    const reservation = reservationOf.get(order.order_id);
    if (order.status === "CONFIRMED") {
      counts.confirmed++;
      if (captured !== 1) violations.push(`confirmed order ${order.order_id} has ${captured} captured payments`);
      if (reservation !== "COMMITTED")
        violations.push(`confirmed order ${order.order_id} has reservation ${reservation}`);
    } else if (order.status === "CANCELLED") {
      counts.cancelled++;
      if (captured !== 0) violations.push(`cancelled order ${order.order_id} still has a captured payment`);
      if (reservation === "RESERVED" || reservation === "COMMITTED")
        violations.push(`cancelled order ${order.order_id} still holds stock (${reservation})`);
    } else {
      counts.other++;
      violations.push(`order ${order.order_id} is ${order.status}, not terminal`);
    }
  }
  for (const product of products) {
    const total = product.available + product.reserved + product.sold;
    const initial = initialStock.get(product.product_id);
    if (total !== initial)
      violations.push(`${product.product_id}: available + reserved + sold = ${total}, initial ${initial}`);
  }
  const kept = gatewayCaptures ? gatewayCaptures().filter((charge) => !charge.refunded).length : undefined;
  if (kept !== undefined && kept !== counts.confirmed) {
    violations.push(`the gateway kept ${kept} captures for ${counts.confirmed} confirmed orders`);
  }
  return { violations, orders: counts };
}
