import { randomUUID } from "node:crypto";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type ConsumerOptions, enqueueFollowUp, handleEvent, isUuid } from "@mesh/kit";
import {
  InventoryRejectedSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  OrderCancelledSchema,
  OrderConfirmedSchema,
  PaymentCompletedSchema,
  PaymentFailedSchema,
  PaymentRefundedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import { databaseDeadline } from "../db/deadlines.ts";
import { Order, SagaStepRow } from "../db/entities.ts";
import { advance, type SagaInput } from "../domain/saga.ts";
import { clipped } from "../domain/validation.ts";

/**
 * Where a saga input came from: an event (with its id) or an API call or timer. Its trace is the active context's
 * (the consumer's or handler's span), which the outbox rows written for it keep.
 */
export interface Cause {
  trigger: string;
  eventId?: string;
  correlationId: string;
}

/**
 * Applies a saga input to a locked order: records the step in the timeline, updates the order, and announces
 * the decision (OrderConfirmed, OrderCancelled) through the outbox in the same transaction. A cancel gives the
 * compensation a deadline of its own, `sagaTimeoutMs` from now, past which the order is reported stuck.
 */
export async function applySagaInput(
  em: EntityManager,
  orderId: string,
  input: SagaInput,
  cause: Cause,
  sagaTimeoutMs: number,
): Promise<Order | undefined> {
  const order = await em.findOne(Order, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!order) return undefined;
  const step = advance(order, input);
  // Details and reasons quote other services' text: cut to the columns, so that recording them cannot fail.
  em.create(SagaStepRow, {
    id: randomUUID(),
    orderId,
    time: new Date(),
    trigger: cause.trigger,
    fromStatus: order.status,
    toStatus: step.status,
    detail: clipped(step.detail),
    eventId: cause.eventId ?? "",
  });
  order.status = step.status;
  order.stockReserved = step.stockReserved;
  order.stockSettled = step.stockSettled;
  order.paymentSettled = step.paymentSettled;
  if (step.announce?.kind === "confirmed") {
    enqueueFollowUp(em, cause, "shop.order.confirmed", OrderConfirmedSchema, create(OrderConfirmedSchema, { orderId }));
  } else if (step.announce?.kind === "cancelled") {
    order.cancelReason = clipped(step.announce.reason);
    order.sagaDeadline = await databaseDeadline(em, sagaTimeoutMs);
    const message = create(OrderCancelledSchema, {
      orderId,
      reason: order.cancelReason,
      refundRequired: step.announce.refundRequired,
      cardToken: order.cardToken,
    });
    enqueueFollowUp(em, cause, "shop.order.cancelled", OrderCancelledSchema, message);
  }
  return order;
}

/** The order's side of the saga: one consumer per event that inventory and payment report with. */
export function sagaConsumers(sagaTimeoutMs: number): Omit<ConsumerOptions, "stream">[] {
  // Must complete: a lost step leaves an order that never confirms, or a cancel that never finishes.
  const consumer = <Desc extends DescMessage>(
    name: string,
    subject: string,
    schema: Desc,
    toInput: (message: MessageShape<Desc>) => SagaInput,
  ): Omit<ConsumerOptions, "stream"> => {
    const handler = handleEvent(schema, async (em, message, event) => {
      // Every saga event names its order in field order_id.
      const orderId = (message as unknown as { orderId: string }).orderId;
      if (!isUuid(orderId)) return; // not one of ours: nothing to apply
      const cause = { trigger: event.subject, eventId: event.id, correlationId: orderId };
      await applySagaInput(em, orderId, toInput(message), cause, sagaTimeoutMs);
    });
    return { name, subject, handler, mustComplete: true };
  };
  return [
    consumer("order-inventory-reserved", "shop.inventory.reserved", InventoryReservedSchema, () => ({
      kind: "inventory_reserved",
    })),
    consumer("order-inventory-rejected", "shop.inventory.rejected", InventoryRejectedSchema, (m) => ({
      kind: "inventory_rejected",
      reason: m.reason,
    })),
    consumer("order-inventory-released", "shop.inventory.released", InventoryReleasedSchema, () => ({
      kind: "inventory_released",
    })),
    consumer("order-payment-completed", "shop.payment.completed", PaymentCompletedSchema, () => ({
      kind: "payment_completed",
    })),
    consumer("order-payment-failed", "shop.payment.failed", PaymentFailedSchema, (m) => ({
      kind: "payment_failed",
      reason: m.reason,
    })),
    consumer("order-payment-refunded", "shop.payment.refunded", PaymentRefundedSchema, () => ({
      kind: "payment_refunded",
    })),
  ];
}
