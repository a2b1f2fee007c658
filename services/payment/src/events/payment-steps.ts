import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { enqueueFollowUp, handleEvent, type IncomingEvent, RetryLaterError } from "@mesh/kit";
import {
  InventoryReservedSchema,
  OrderCancelledSchema,
  PaymentCompletedSchema,
  PaymentFailedSchema,
  PaymentRefundedSchema,
  PaymentRefundRequestedSchema,
} from "@mesh/proto/shop/events/v1/events_pb";
import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { claimCard, eraseCardOf } from "../db/card-store.ts";
import { Card, Payment } from "../db/entities.ts";
import { lockPaymentOf } from "../db/payment-rows.ts";
import { openCard } from "../domain/card-vault.ts";
import {
  afterChargeFailure,
  type ChargeAnswer,
  chargeAnswer,
  chargeRetryDelayMs,
  type SettledCharge,
  settledCharge,
} from "../domain/charge-failure.ts";
import { afterRefundFailure, cancelStep } from "../domain/compensation.ts";
import { boundReason } from "../domain/reason.ts";
import { chargeKey, GATEWAY_TIMEOUT_MS, type Gateway, gatewayClient, type ProviderClient } from "../gateway.ts";

export type { ProviderClient } from "../gateway.ts";

/** What the saga steps work with. */
export interface PaymentStepDeps {
  gateway: Gateway;
  cardKey: Buffer;
  /** Where a refund the gateway refused is reported. */
  log?: Logger;
}

/**
 * A step calls the gateway inside its event's transaction (the payment row stays locked while the gateway answers),
 * so each step in flight holds a database connection for as long as the gateway takes, up to its timeout. These
 * bound what a hung gateway can hold, as a bulkhead: a charge holds one connection and, for a moment, a second (its
 * card claim, see claimCard), a cancel one. PAYMENT_POOL_SIZE leaves room beside them for the API (TokenizeCard,
 * which every PlaceOrder needs, keeps answering while the gateway hangs), the outbox relay and the sweeps.
 */
export const CHARGE_CONCURRENCY = 4;
export const CANCEL_CONCURRENCY = 2;
export const PAYMENT_POOL_SIZE = 2 * CHARGE_CONCURRENCY + CANCEL_CONCURRENCY + 6;

export interface PaymentStepOptions {
  /** How long one call to the gateway may take (default GATEWAY_TIMEOUT_MS); past it, its outcome is unknown. */
  gatewayTimeoutMs?: number;
  log?: Logger;
}

/**
 * Payment's saga steps as consumers. Both move money or answer the saga, so neither may be given up: they are
 * must-complete (retried until they pass).
 */
export function paymentConsumers(provider: ProviderClient, cardKey: Buffer, options: PaymentStepOptions = {}) {
  const deps = {
    gateway: gatewayClient(provider, options.gatewayTimeoutMs ?? GATEWAY_TIMEOUT_MS),
    cardKey,
    log: options.log,
  };
  return [
    {
      name: "payment-inventory-reserved",
      subject: "shop.inventory.reserved",
      handler: onInventoryReserved(deps),
      mustComplete: true,
      concurrency: CHARGE_CONCURRENCY,
    },
    {
      name: "payment-order-cancelled",
      subject: "shop.order.cancelled",
      handler: onOrderCancelled(deps),
      mustComplete: true,
      concurrency: CANCEL_CONCURRENCY,
    },
    {
      name: "payment-refund-requested",
      subject: "shop.payment.refund-requested",
      handler: onRefundRequested(deps),
      mustComplete: true,
      concurrency: CANCEL_CONCURRENCY,
    },
  ];
}

type Cause = { correlationId: string; traceparent?: string };

/**
 * Refunds a captured payment through the gateway (one key per charge, so an operator's refund and a cancel's never
 * make two) and reports it with PaymentRefunded. A refund the gateway refuses for good parks the payment in
 * REFUND_FAILED, with the reason, and announces nothing: the order stays cancelling, for a person to settle. Any other
 * failure throws, and the refund is tried again.
 */
export async function refundPayment(
  em: EntityManager,
  deps: Pick<PaymentStepDeps, "gateway" | "log">,
  payment: Payment,
  cause: Cause,
): Promise<"refunded" | "refused"> {
  try {
    await deps.gateway.refund(payment.providerChargeId);
  } catch (error) {
    const failure = ConnectError.from(error);
    const decision = afterRefundFailure({ code: failure.code, message: failure.rawMessage });
    if (decision.kind === "retry") throw error;
    payment.status = "REFUND_FAILED";
    payment.failureReason = decision.reason;
    deps.log?.error({ order: payment.orderId, payment: payment.paymentId, reason: decision.reason }, "refund refused");
    return "refused";
  }
  payment.status = "REFUNDED";
  const message = create(PaymentRefundedSchema, {
    orderId: payment.orderId,
    paymentId: payment.paymentId,
    amount: { amountMinor: BigInt(payment.amountMinor), currency: payment.currency },
  });
  enqueueFollowUp(em, cause, "shop.payment.refunded", PaymentRefundedSchema, message);
  return "refunded";
}

/**
 * An operator's refund: made at once when the gateway answers; when it does not (unreachable, or its answer lost,
 * so the money may already be back), the decision is kept instead of rolled back: the payment is REFUNDING and
 * PaymentRefundRequested, in the same transaction, has payment's own must-complete consumer finish it. A refund is
 * never dropped because its caller gave up.
 */
export async function refundOrRequest(
  em: EntityManager,
  deps: Pick<PaymentStepDeps, "gateway" | "log">,
  payment: Payment,
  cause: Cause,
): Promise<"refunded" | "refused" | "requested"> {
  try {
    return await refundPayment(em, deps, payment, cause);
  } catch (error) {
    payment.status = "REFUNDING";
    const message = create(PaymentRefundRequestedSchema, { orderId: payment.orderId, paymentId: payment.paymentId });
    enqueueFollowUp(em, cause, "shop.payment.refund-requested", PaymentRefundRequestedSchema, message);
    deps.log?.warn(
      { order: payment.orderId, payment: payment.paymentId, err: (error as Error).message },
      "refund not answered; payment will finish it",
    );
    return "requested";
  }
}

/** PaymentRefundRequested: finish a refund the gateway did not answer (thrown failures are retried, without limit). */
export function onRefundRequested(deps: PaymentStepDeps) {
  return handleEvent(PaymentRefundRequestedSchema, async (em, requested, incoming) => {
    const payment = await em.findOne(
      Payment,
      { paymentId: requested.paymentId },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    // Anything else: a cancel's refund (under the same key, for the same charge) finished it first.
    if (payment?.status === "REFUNDING") await refundPayment(em, deps, payment, incoming);
  });
}

/** Records that nothing was taken (FAILED, or DECLINED by the issuer) and announces it with PaymentFailed. */
function failPayment(em: EntityManager, cause: Cause, payment: Payment, status: "FAILED" | "DECLINED", reason: string) {
  payment.status = status;
  payment.failureReason = boundReason("", reason);
  const message = create(PaymentFailedSchema, {
    orderId: payment.orderId,
    paymentId: payment.paymentId,
    reason: payment.failureReason,
  });
  enqueueFollowUp(em, cause, "shop.payment.failed", PaymentFailedSchema, message);
}

/** Records a captured charge; the amount when the gateway reports it (a charge settled by a cancel). */
function recordCapture(payment: Payment, charge: Extract<ChargeAnswer, { kind: "captured" }>) {
  payment.status = "CAPTURED";
  payment.providerChargeId = charge.chargeId;
  if (charge.amount) {
    payment.amountMinor = Number(charge.amount.amountMinor);
    payment.currency = charge.amount.currency;
  }
}

/** What a charge came to: the gateway's outcome, or a failure that took nothing. */
type ChargeResult = ChargeAnswer | { kind: "failed"; reason: string };

/** A settled charge as a result: a voided key means the charge was never made, for the reason given. */
const orFailed = (charge: SettledCharge, reason: string): ChargeResult =>
  charge.kind === "voided" ? { kind: "failed", reason } : charge;

/** The charge's result, recorded and announced: PaymentCompleted, or PaymentFailed (declined, or never made). */
function recordCharge(em: EntityManager, cause: Cause, payment: Payment, result: ChargeResult) {
  if (result.kind === "failed") return failPayment(em, cause, payment, "FAILED", result.reason);
  if (result.kind === "declined") {
    payment.providerChargeId = result.chargeId;
    return failPayment(em, cause, payment, "DECLINED", result.declineCode);
  }
  recordCapture(payment, result);
  const message = create(PaymentCompletedSchema, {
    orderId: payment.orderId,
    paymentId: payment.paymentId,
    amount: { amountMinor: BigInt(payment.amountMinor), currency: payment.currency },
  });
  enqueueFollowUp(em, cause, "shop.payment.completed", PaymentCompletedSchema, message);
}

/** Asks the gateway what became of the order's charge; until it answers, the charge step tries again later. */
async function settleOrRetryLater(gateway: Gateway, orderId: string, attempt: number, why: string) {
  try {
    return settledCharge(await gateway.settle(chargeKey(orderId)));
  } catch (error) {
    const reason = boundReason(
      `charge outcome unknown (${why}), not settled yet: `,
      ConnectError.from(error).rawMessage,
    );
    throw new RetryLaterError(reason, chargeRetryDelayMs(attempt));
  }
}

/** Sends the charge: its outcome, or what the gateway settles it as when the answer was lost. */
async function chargeCard(
  gateway: Gateway,
  request: Parameters<Gateway["charge"]>[0] & { idempotencyKey: string },
  orderId: string,
  attempt: number,
): Promise<ChargeResult> {
  try {
    return chargeAnswer(await gateway.charge(request));
  } catch (error) {
    const failure = ConnectError.from(error);
    const decision = afterChargeFailure({ code: failure.code, message: failure.rawMessage }, attempt);
    // Rolling back releases the claimed payment row: the charge stays pending, and a cancel may still win.
    if (decision.kind === "retry")
      throw new RetryLaterError(boundReason("charge pending: ", failure.rawMessage), decision.delayMs);
    if (decision.kind === "fail") return { kind: "failed", reason: decision.reason };
    const charge = await settleOrRetryLater(gateway, orderId, attempt, Code[failure.code]);
    return orFailed(charge, boundReason("the payment gateway never made the charge: ", failure.rawMessage));
  }
}

/**
 * InventoryReserved: charge the order's card through the gateway, with a key that makes retries harmless. The card
 * number is opened from payment's own store by the event's token; once the charge is final (captured, declined, or
 * refused) the number is erased: refunds go by the gateway's charge id. A charge that gets no outcome is retried
 * with a growing pause for as long as it takes, and nothing final is recorded without the gateway's word: a lost
 * answer is settled with SettleCharge. Only OrderCancelled ends a charge that never gets an answer (it writes the
 * payment row first; see onOrderCancelled).
 */
export function onInventoryReserved(deps: PaymentStepDeps) {
  return handleEvent(InventoryReservedSchema, async (em, reserved, incoming) => {
    const { orderId, cardToken } = reserved;
    if (await em.findOne(Payment, { orderId })) {
      await eraseCardOf(em, cardToken, orderId); // charged already, or cancelled first: the card is not needed
      return;
    }
    const card = cardToken ? await claimCard(em, cardToken, orderId) : undefined;
    const amount = reserved.total ?? { amountMinor: 0n, currency: "USD" };
    const payment = em.create(Payment, {
      paymentId: randomUUID(),
      orderId,
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
    const cardNumber = card?.sealedNumber ? openCard(deps.cardKey, cardToken, card.sealedNumber) : undefined;
    if (!cardNumber) {
      const unavailable = "card_unavailable: the card token is unknown, pays for another order, or its card is gone";
      // Claimed: an earlier try may have charged the card (its number erased since, or sealed under the key of a
      // process that is gone), so the gateway has the last word. Not claimed: no charge was ever sent.
      const charge = card && (await settleOrRetryLater(deps.gateway, orderId, incoming.deliveryCount, "card gone"));
      recordCharge(
        em,
        incoming,
        payment,
        charge ? orFailed(charge, unavailable) : { kind: "failed", reason: unavailable },
      );
      await eraseCardOf(em, cardToken, orderId);
      return;
    }
    const request = {
      idempotencyKey: chargeKey(orderId),
      cardNumber,
      amount,
      description: `order ${orderId}`,
    };
    recordCharge(em, incoming, payment, await chargeCard(deps.gateway, request, orderId, incoming.deliveryCount));
    await eraseCardOf(em, cardToken, orderId);
  });
}

/** The cancel's answer for a payment where nothing is or can be captured any more. */
function answerFailed(em: EntityManager, incoming: IncomingEvent, payment: Payment, reason: string) {
  failPayment(em, incoming, payment, payment.status === "DECLINED" ? "DECLINED" : "FAILED", reason);
}

/**
 * OrderCancelled: answer with PaymentRefunded or PaymentFailed once the order's money is settled. The payment row is
 * locked (inserted first when there is none), so a charge, an operator's refund and this step take turns on it. A
 * charge that may have been sent and has no recorded outcome is settled with the gateway: a capture found is recorded
 * and refunded; none found voids the key, so nothing can be captured any more. A gateway failure throws (tried again
 * until it passes); a refund refused for good parks the payment (REFUND_FAILED) and answers nothing. The card, which
 * will not be charged, is erased unless another order's charge claimed it.
 */
export function onOrderCancelled(deps: PaymentStepDeps) {
  return handleEvent(OrderCancelledSchema, async (em, cancelled, incoming) => {
    const { orderId, cardToken } = cancelled;
    const payment = await lockPaymentOf(em, orderId, "");
    // Read after the lock: a charge claims the card before it inserts the row, so a claim made by a try that rolled
    // back is seen here. Without a token, a charge cannot be ruled out.
    const card = cardToken ? await em.findOne(Card, { token: cardToken }) : null;
    if (!payment.cardLast4 && card) payment.cardLast4 = card.last4;
    const chargeMayHaveBeenSent = !cardToken || card?.claimedBy === orderId;
    const cancelledBefore = boundReason("order cancelled before payment: ", cancelled.reason);
    const step = cancelStep(payment.status, chargeMayHaveBeenSent);
    if (step.kind === "refund") await refundPayment(em, deps, payment, incoming);
    else if (step.kind === "failed") answerFailed(em, incoming, payment, payment.failureReason || cancelledBefore);
    else if (step.kind === "settle") {
      const charge = settledCharge(await deps.gateway.settle(chargeKey(orderId)));
      if (charge.kind === "captured") {
        recordCapture(payment, charge);
        await refundPayment(em, deps, payment, incoming);
      } else if (charge.kind === "declined") {
        payment.providerChargeId = charge.chargeId;
        failPayment(em, incoming, payment, "DECLINED", charge.declineCode);
      } else failPayment(em, incoming, payment, "FAILED", cancelledBefore);
    }
    await eraseCardOf(em, cardToken, orderId);
  });
}
