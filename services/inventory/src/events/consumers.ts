import { create } from "@bufbuild/protobuf";
import { type ConsumerOptions, enqueueFollowUp, handleEvent } from "@mesh/kit";
import {
  InventoryRejectedSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  type OrderCancelled,
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Reservation } from "../db/entities.ts";
import { insertReservation, lockReservation, rejectReservation } from "../db/reservation-repository.ts";
import { lockProducts } from "../db/stock-repository.ts";
import { boundedReason } from "../domain/reason.ts";
import { canReserve, commit, type Line, mergeLines, release, reserve, restock } from "../domain/stock.ts";

// Every step reads the order's reservation locked, or inserts it first (see reservation-repository for the lock
// order): two events of one order applied at once (a confirm and a cancel, a create and a cancel) apply one after
// the other, the second seeing what the first did.

/** OrderCreated: hold every line, or none and say why; nothing when the order was decided or cancelled already. */
export const onOrderCreated = handleEvent(OrderCreatedSchema, async (em, order, incoming) => {
  const lines = mergeLines(order.lines);
  // Claimed as held before the products are looked at (the row comes first in the lock order); turned into a
  // rejection below when the stock is short.
  if (!(await insertReservation(em, { orderId: order.orderId, status: "RESERVED", lines, reason: "" }))) return;
  const products = await lockProducts(em, lines);
  const outcome = canReserve(products, lines);
  if (!outcome.ok) {
    const reason = boundedReason(outcome.reason);
    await rejectReservation(em, order.orderId, reason);
    const message = create(InventoryRejectedSchema, { orderId: order.orderId, reason });
    enqueueFollowUp(em, incoming, "shop.inventory.rejected", InventoryRejectedSchema, message);
    return;
  }
  for (const line of lines) {
    const product = products.get(line.productId);
    if (product) reserve(product, line.quantity);
  }
  const message = create(InventoryReservedSchema, {
    orderId: order.orderId,
    lines,
    total: order.total,
    cardToken: order.cardToken,
    cardLast4: order.cardLast4,
    sagaDeadline: order.sagaDeadline,
  });
  enqueueFollowUp(em, incoming, "shop.inventory.reserved", InventoryReservedSchema, message);
});

/** OrderConfirmed: the held units are sold (unless the order's cancel came first and gave them back). */
export const onOrderConfirmed = handleEvent(OrderConfirmedSchema, async (em, confirmed) => {
  const reservation = await lockReservation(em, confirmed.orderId);
  if (reservation?.status !== "RESERVED") return;
  const products = await lockProducts(em, reservation.lines);
  for (const line of reservation.lines) {
    const product = products.get(line.productId);
    if (product) commit(product, line.quantity);
  }
  reservation.status = "COMMITTED";
});

/**
 * OrderCancelled: give back what is held or sold, and always answer with InventoryReleased (the lines given back;
 * none when nothing was held), so the order learns that its stock side is settled.
 */
export const onOrderCancelled = handleEvent(OrderCancelledSchema, async (em, cancelled, incoming) => {
  const lines = await giveBack(em, cancelled);
  const message = create(InventoryReleasedSchema, { orderId: cancelled.orderId, lines });
  enqueueFollowUp(em, incoming, "shop.inventory.released", InventoryReleasedSchema, message);
});

/** Releases held units or restocks sold ones; returns the lines given back. */
async function giveBack(em: EntityManager, cancelled: OrderCancelled): Promise<Line[]> {
  const reservation = await lockOrRecordCancel(em, cancelled);
  if (reservation?.status !== "RESERVED" && reservation?.status !== "COMMITTED") return [];
  const products = await lockProducts(em, reservation.lines);
  for (const line of reservation.lines) {
    const product = products.get(line.productId);
    if (!product) continue;
    if (reservation.status === "RESERVED") release(product, line.quantity);
    else restock(product, line.quantity);
  }
  reservation.status = "RELEASED";
  reservation.reason = boundedReason(cancelled.reason);
  return reservation.lines;
}

/**
 * The order's reservation, locked; or, when the order has none yet, null after recording the cancel as a released
 * reservation, so that a later OrderCreated holds nothing.
 */
async function lockOrRecordCancel(em: EntityManager, cancelled: OrderCancelled): Promise<Reservation | null> {
  const reservation = await lockReservation(em, cancelled.orderId);
  if (reservation) return reservation;
  const reason = boundedReason(`cancelled before reservation: ${cancelled.reason}`);
  if (await insertReservation(em, { orderId: cancelled.orderId, status: "RELEASED", lines: [], reason })) return null;
  // OrderCreated inserted the row meanwhile (the insert waited for it to commit): act on what it decided.
  return lockReservation(em, cancelled.orderId);
}

/**
 * Inventory's consumers. Must complete: losing any of these steps leaves stock held, or sold, for an order that says
 * otherwise, so a failing event is tried again until it applies.
 */
export const inventoryConsumers: Omit<ConsumerOptions, "stream">[] = [
  { name: "inventory-order-created", subject: "shop.order.created", handler: onOrderCreated, mustComplete: true },
  { name: "inventory-order-confirmed", subject: "shop.order.confirmed", handler: onOrderConfirmed, mustComplete: true },
  { name: "inventory-order-cancelled", subject: "shop.order.cancelled", handler: onOrderCancelled, mustComplete: true },
];
