import { randomUUID } from "node:crypto";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { enqueueFollowUp, handleEvent, isUuid } from "@mesh/kit";
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
import { Order, SagaStepRow } from "../db/entities.ts";
import { advance, type SagaInput } from "../domain/saga.ts";

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
 * the decision (OrderConfirmed, OrderCancelled) through the outbox in the same transaction.
 */
export async function applySagaInput(
  em: EntityManager,
  orderId: string,
  input: SagaInput,
  cause: Cause,
): Promise<Order | undefined> {
  const order = await em.findOne(Order, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!order) return undefined;
  const step = advance(order, input);
  em.create(SagaStepRow, {
    id: randomUUID(),
    orderId,
    time: new Date(),
    trigger: cause.trigger,
    fromStatus: order.status,
    toStatus: step.status,
    detail: step.detail,
    eventId: cause.eventId ?? "",
  });
  order.status = step.status;
  order.refunded = step.refunded;
  order.released = step.released;
  if (step.announce?.kind === "confirmed") {
    enqueueFollowUp(em, cause, "shop.order.confirmed", OrderConfirmedSchema, create(OrderConfirmedSchema, { orderId }));
  } else if (step.announce?.kind === "cancelled") {
    order.cancelReason = step.announce.reason;
    const message = create(OrderCancelledSchema, {
      orderId,
      reason: step.announce.reason,
      refundRequired: step.announce.refundRequired,
      cardToken: order.cardToken,
    });
    enqueueFollowUp(em, cause, "shop.order.cancelled", OrderCancelledSchema, message);
  }
  return order;
}

/** A consumer that turns one event type into a saga input for the order it names. */
function sagaConsumer<Desc extends DescMessage>(schema: Desc, toInput: (message: MessageShape<Desc>) => SagaInput) {
  return handleEvent(schema, async (em, message, event) => {
    // Every saga event names its order in field order_id.
    const orderId = (message as unknown as { orderId: string }).orderId;
    if (!isUuid(orderId)) return; // not one of ours: nothing to apply
    await applySagaInput(em, orderId, toInput(message), {
      trigger: event.subject,
      eventId: event.id,
      correlationId: orderId,
    });
  });
}

export const sagaConsumers = [
  {
    name: "order-inventory-reserved",
    subject: "shop.inventory.reserved",
    handler: sagaConsumer(InventoryReservedSchema, () => ({ kind: "inventory_reserved" })),
  },
  {
    name: "order-inventory-rejected",
    subject: "shop.inventory.rejected",
    handler: sagaConsumer(InventoryRejectedSchema, (m) => ({ kind: "inventory_rejected", reason: m.reason })),
  },
  {
    name: "order-inventory-released",
    subject: "shop.inventory.released",
    handler: sagaConsumer(InventoryReleasedSchema, () => ({ kind: "inventory_released" })),
  },
  {
    name: "order-payment-completed",
    subject: "shop.payment.completed",
    handler: sagaConsumer(PaymentCompletedSchema, () => ({ kind: "payment_completed" })),
  },
  {
    name: "order-payment-failed",
    subject: "shop.payment.failed",
    handler: sagaConsumer(PaymentFailedSchema, (m) => ({ kind: "payment_failed", reason: m.reason })),
  },
  {
    name: "order-payment-refunded",
    subject: "shop.payment.refunded",
    handler: sagaConsumer(PaymentRefundedSchema, () => ({ kind: "payment_refunded" })),
  },
];
