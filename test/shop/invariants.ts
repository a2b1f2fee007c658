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

/** Payment statuses that hold, or may still take, the customer's money. */
const MONEY_HELD = ["CAPTURED", "PENDING", "REFUND_FAILED", "REFUNDING"];

/** Which answers a CANCELLING order still waits for, from its settled flags. */
function cancelWaitsFor(order: { stock_settled: boolean; payment_settled: boolean }): string {
  const missing = [!order.payment_settled && "payment", !order.stock_settled && "inventory"].filter(Boolean);
  return `waiting for ${missing.join(" and ") || "nothing"}`;
}

export interface InvariantReport {
  violations: string[];
  orders: { confirmed: number; cancelled: number; other: number };
}

/**
 * Every order ends CONFIRMED or CANCELLED (none is left CANCELLING); no order has more than one payment; a confirmed
 * order has exactly one captured payment and a committed reservation; a cancelled one has no money held (no payment
 * CAPTURED, still PENDING, or parked REFUND_FAILED) and no stock held; for every product available + reserved + sold
 * = initial stock (seed plus adjustments), reserved is what its RESERVED reservations hold and sold what its
 * COMMITTED ones do; the gateway kept a capture for each confirmed order only.
 */
export async function checkInvariants(
  urls: { order: string; inventory: string; payment: string },
  initialStock: Map<string, number>,
  /** The gateway's captures, when its ledger can be read (the in-process provider); else that check is skipped. */
  gatewayCaptures?: () => { refunded: boolean }[],
): Promise<InvariantReport> {
  const violations: string[] = [];
  const orders = await queryRows<{
    order_id: string;
    status: string;
    stock_settled: boolean;
    payment_settled: boolean;
  }>(urls.order, "select order_id, status, stock_settled, payment_settled from orders");
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
  // What the reservations say each product holds: the units of RESERVED lines and of COMMITTED (sold) lines.
  const held = await queryRows<{ product_id: string; status: string; units: number }>(
    urls.inventory,
    `select line->>'productId' as product_id, r.status, sum((line->>'quantity')::int)::int as units
     from reservation r, jsonb_array_elements(r.lines) line
     where r.status in ('RESERVED', 'COMMITTED') group by 1, 2`,
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
      const holding = (paymentsByOrder.get(order.order_id) ?? []).filter((status) => MONEY_HELD.includes(status));
      if (holding.length) violations.push(`cancelled order ${order.order_id} has a payment ${holding.join(", ")}`);
      if (reservation === "RESERVED" || reservation === "COMMITTED")
        violations.push(`cancelled order ${order.order_id} still holds stock (${reservation})`);
    } else {
      counts.other++;
      const waiting = order.status === "CANCELLING" ? ` (${cancelWaitsFor(order)})` : "";
      violations.push(`order ${order.order_id} is ${order.status}, not terminal${waiting}`);
    }
  }
  const unitsOf = (productId: string, status: string) =>
    held.find((row) => row.product_id === productId && row.status === status)?.units ?? 0;
  for (const product of products) {
    const total = product.available + product.reserved + product.sold;
    const initial = initialStock.get(product.product_id);
    if (total !== initial)
      violations.push(`${product.product_id}: available + reserved + sold = ${total}, initial ${initial}`);
    const reserved = unitsOf(product.product_id, "RESERVED");
    if (product.reserved !== reserved)
      violations.push(
        `${product.product_id}: reserved ${product.reserved}, its RESERVED reservations hold ${reserved}`,
      );
    const sold = unitsOf(product.product_id, "COMMITTED");
    if (product.sold !== sold)
      violations.push(`${product.product_id}: sold ${product.sold}, its COMMITTED reservations hold ${sold}`);
  }
  const kept = gatewayCaptures ? gatewayCaptures().filter((charge) => !charge.refunded).length : undefined;
  if (kept !== undefined && kept !== counts.confirmed) {
    violations.push(`the gateway kept ${kept} captures for ${counts.confirmed} confirmed orders`);
  }
  return { violations, orders: counts };
}
