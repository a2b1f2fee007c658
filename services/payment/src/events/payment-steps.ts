import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import { enqueueFollowUp, handleEvent, type IncomingEvent, RetryLaterError } from "@mesh/kit";
import {
  InventoryReservedSchema,
  OrderCancelledSchema,
  PaymentCompletedSchema,
  PaymentFailedSchema,
  PaymentRefundedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import { ChargeOutcome, type PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import type { EntityManager } from "@mikro-orm/postgresql";
import { eraseCardNumber, eraseCardOf, findCard } from "../db/card-store.ts";
import { Payment } from "../db/entities.ts";
import { afterChargeFailure } from "../domain/charge-failure.ts";

export type ProviderClient = Client<typeof PaymentProviderService>;

/** How long one call to the gateway may take (the sidecar's retries included). */
export const GATEWAY_TIMEOUT_MS = 5000;

/**
 * Deliveries of InventoryReserved at most: a backstop only. A charge the gateway fails transiently is tried about
 * every 2 s until the saga's deadline (afterChargeFailure), some 20 deliveries for the default 30 s.
 */
export const CHARGE_DELIVERIES = 100;

/** Refunds a captured payment through the gateway (idempotent per payment) and reports it. */
export async function refundPayment(
  em: EntityManager,
  provider: ProviderClient,
  payment: Payment,
  cause: { correlationId: string },
) {
  await provider.refundCharge(
    { idempotencyKey: `refund-${payment.paymentId}`, chargeId: payment.providerChargeId },
    { timeoutMs: GATEWAY_TIMEOUT_MS },
  );
  payment.status = "REFUNDED";
  const message = create(PaymentRefundedSchema, {
    orderId: payment.orderId,
    paymentId: payment.paymentId,
    amount: { amountMinor: BigInt(payment.amountMinor), currency: payment.currency },
  });
  enqueueFollowUp(em, cause, "shop.payment.refunded", PaymentRefundedSchema, message);
}

function fail(em: EntityManager, incoming: IncomingEvent, payment: Payment, reason: string) {
  payment.status = payment.status === "PENDING" ? "FAILED" : payment.status;
  payment.failureReason = reason;
  const message = create(PaymentFailedSchema, { orderId: payment.orderId, paymentId: payment.paymentId, reason });
  enqueueFollowUp(em, incoming, "shop.payment.failed", PaymentFailedSchema, message);
}

/**
 * InventoryReserved: charge the order's card through the gateway, with a key that makes retries harmless. The card
 * number is opened from payment's own store by the event's token; once the charge is final (captured, declined, or
 * failed for good) the number is erased: refunds go by the gateway's charge id.
 */
export function onInventoryReserved(provider: ProviderClient, cardKey: Buffer) {
  return handleEvent(InventoryReservedSchema, async (em, reserved, incoming) => {
    if (await em.findOne(Payment, { orderId: reserved.orderId })) {
      await eraseCardOf(em, reserved.cardToken); // charged already, or cancelled first: the card is not needed
      return;
    }
    const { card, cardNumber } = await findCard(em, cardKey, reserved.cardToken);
    const amount = reserved.total ?? { amountMinor: 0n, currency: "USD" };
    const payment = em.create(Payment, {
      paymentId: randomUUID(),
      orderId: reserved.orderId,
      amountMinor: Number(amount.amountMinor),
      currency: amount.currency,
      status: "PENDING",
      providerChargeId: "",
      failureReason: "",
      cardLast4: card?.last4 ?? reserved.cardLast4,
    });
    // Claim the order's one payment row before charging: a concurrent cancel (which writes the same row) either
    // waits for this transaction or has already won, in which case the insert fails here and nothing is charged.
    await em.flush();
    if (!cardNumber) {
      // An unknown token, a card already erased (a token pays for one order), or one sealed under another key.
      eraseCardNumber(card);
      fail(em, incoming, payment, "card_unavailable: the card token is unknown or its card is no longer kept");
      return;
    }
    let result: Awaited<ReturnType<ProviderClient["charge"]>>;
    try {
      result = await provider.charge(
        { idempotencyKey: `charge-${reserved.orderId}`, cardNumber, amount, description: `order ${reserved.orderId}` },
        { timeoutMs: GATEWAY_TIMEOUT_MS },
      );
    } catch (error) {
      const failure = ConnectError.from(error);
      const deadline = reserved.sagaDeadline && timestampDate(reserved.sagaDeadline);
      const decision = afterChargeFailure(
        { code: failure.code, message: failure.rawMessage },
        incoming.deliveryCount,
        new Date(),
        deadline,
      );
      // Rolling back releases the claimed payment row: the charge stays pending, and a cancel may still win.
      if (decision.kind === "retry")
        throw new RetryLaterError(`charge pending: ${failure.rawMessage}`, decision.delayMs);
      eraseCardNumber(card);
      fail(em, incoming, payment, decision.reason);
      return;
    }
    eraseCardNumber(card);
    payment.providerChargeId = result.chargeId;
    if (result.outcome !== ChargeOutcome.CAPTURED) {
      payment.status = "DECLINED";
      fail(em, incoming, payment, result.declineCode || "declined");
      return;
    }
    payment.status = "CAPTURED";
    const message = create(PaymentCompletedSchema, { orderId: reserved.orderId, paymentId: payment.paymentId, amount });
    enqueueFollowUp(em, incoming, "shop.payment.completed", PaymentCompletedSchema, message);
  });
}

/**
 * OrderCancelled: refund what was captured; remember the cancel when nothing was charged yet. Either way the order's
 * card will not be charged, so its number is erased (an order cancelled before its stock was reserved never sent
 * payment an InventoryReserved).
 */
export function onOrderCancelled(provider: ProviderClient) {
  return handleEvent(OrderCancelledSchema, async (em, cancelled, incoming) => {
    const payment = await em.findOne(Payment, { orderId: cancelled.orderId });
    if (!payment) {
      em.create(Payment, {
        paymentId: randomUUID(),
        orderId: cancelled.orderId,
        amountMinor: 0,
        currency: "USD",
        status: "FAILED",
        providerChargeId: "",
        failureReason: `order cancelled before payment: ${cancelled.reason}`,
        cardLast4: "",
      });
      // The payment row first, the card after, in the same order as a charge: the two never deadlock.
      await em.flush();
    } else if (payment.status === "CAPTURED") await refundPayment(em, provider, payment, incoming);
    await eraseCardOf(em, cancelled.cardToken);
  });
}
