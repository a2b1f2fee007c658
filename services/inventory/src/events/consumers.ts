import { create } from "@bufbuild/protobuf";
import { enqueueFollowUp, handleEvent } from "@mesh/kit";
import {
  InventoryRejectedSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import { Reservation } from "../db/entities.ts";
import { lockProducts } from "../db/stock-repository.ts";
import { canReserve, commit, mergeLines, release, reserve, restock } from "../domain/stock.ts";

/** OrderCreated: hold every line, or none and say why. */
export const onOrderCreated = handleEvent(OrderCreatedSchema, async (em, order, incoming) => {
  if (await em.findOne(Reservation, { orderId: order.orderId })) return; // already decided, or cancelled first
  const lines = mergeLines(order.lines);
  const products = await lockProducts(em, lines);
  const outcome = canReserve(products, lines);
  if (!outcome.ok) {
    em.create(Reservation, { orderId: order.orderId, status: "REJECTED", lines: [], reason: outcome.reason });
    const message = create(InventoryRejectedSchema, { orderId: order.orderId, reason: outcome.reason });
    enqueueFollowUp(em, incoming, "shop.inventory.rejected", InventoryRejectedSchema, message);
    return;
  }
  for (const line of lines) {
    const product = products.get(line.productId);
    if (product) reserve(product, line.quantity);
  }
  em.create(Reservation, { orderId: order.orderId, status: "RESERVED", lines, reason: "" });
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

/** OrderConfirmed: the held units are sold. */
export const onOrderConfirmed = handleEvent(OrderConfirmedSchema, async (em, confirmed) => {
  const reservation = await em.findOne(Reservation, { orderId: confirmed.orderId });
  if (reservation?.status !== "RESERVED") return;
  const products = await lockProducts(em, reservation.lines);
  for (const line of reservation.lines) {
    const product = products.get(line.productId);
    if (product) commit(product, line.quantity);
  }
  reservation.status = "COMMITTED";
});

/** OrderCancelled: give back what is held or sold; remember the cancel when nothing was reserved yet. */
export const onOrderCancelled = handleEvent(OrderCancelledSchema, async (em, cancelled, incoming) => {
  const reservation = await em.findOne(Reservation, { orderId: cancelled.orderId });
  if (!reservation) {
    em.create(Reservation, {
      orderId: cancelled.orderId,
      status: "RELEASED",
      lines: [],
      reason: `cancelled before reservation: ${cancelled.reason}`,
    });
    return;
  }
  if (reservation.status !== "RESERVED" && reservation.status !== "COMMITTED") return;
  const products = await lockProducts(em, reservation.lines);
  for (const line of reservation.lines) {
    const product = products.get(line.productId);
    if (!product) continue;
    if (reservation.status === "RESERVED") release(product, line.quantity);
    else restock(product, line.quantity);
  }
  reservation.status = "RELEASED";
  reservation.reason = cancelled.reason;
  const message = create(InventoryReleasedSchema, { orderId: cancelled.orderId, lines: reservation.lines });
  enqueueFollowUp(em, incoming, "shop.inventory.released", InventoryReleasedSchema, message);
});
