import { Code } from "@connectrpc/connect";
import { ChargeOutcome } from "@mesh/proto/shop/payment/v1/provider_pb";
import { boundReason } from "./reason.ts";

/**
 * Answers that say the call may have been processed but its answer was lost (a deadline, a broken connection, a
 * crash): whether money was taken is unknown until the gateway is asked (SettleCharge).
 */
const OUTCOME_UNKNOWN = new Set([Code.DeadlineExceeded, Code.Unknown, Code.Internal, Code.Canceled, Code.DataLoss]);

/**
 * Answers that say nothing was done: the gateway unreachable (no endpoints, breaker open, refused), overloaded, or a
 * conflict it asks to retry. Charging again with the same idempotency key is harmless either way.
 */
const NOT_PROCESSED = new Set([Code.Unavailable, Code.ResourceExhausted, Code.Aborted]);

/** The longest pause between two tries of a charge: a gateway back from an outage is tried again within it. */
export const MAX_RETRY_DELAY_MS = 2000;
const FIRST_RETRY_DELAY_MS = 250;

export type ChargeFailureDecision =
  | { kind: "retry"; delayMs: number }
  | { kind: "settle" }
  | { kind: "fail"; reason: string };

/** The pause before the next try of a charge that got no answer yet (attempt: the delivery that failed, from 1). */
export function chargeRetryDelayMs(attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** (Math.max(attempt, 1) - 1));
}

/**
 * What to do about a Charge that ended without an outcome. Only the gateway's definite answer (an invalid argument,
 * a voided key...) fails the payment. Nothing is decided by the clock: a charge the gateway did not process is tried
 * again, with a growing pause, for as long as it takes (the order's deadline sweeper cancels a saga that waits too
 * long, and the cancel settles the charge); one that may have been processed is settled first.
 */
export function afterChargeFailure(failure: { code: Code; message: string }, attempt: number): ChargeFailureDecision {
  if (OUTCOME_UNKNOWN.has(failure.code)) return { kind: "settle" };
  if (NOT_PROCESSED.has(failure.code)) return { kind: "retry", delayMs: chargeRetryDelayMs(attempt) };
  return { kind: "fail", reason: boundReason("payment gateway error: ", failure.message) };
}

export type ChargeAnswer =
  | { kind: "captured"; chargeId: string; amount?: { amountMinor: bigint; currency: string } }
  | { kind: "declined"; chargeId: string; declineCode: string };

export type SettledCharge = ChargeAnswer | { kind: "voided" };

/** What a charge made at the gateway came to: captured, or declined (nothing taken). */
export function chargeAnswer(charge: {
  chargeId: string;
  outcome: ChargeOutcome;
  declineCode: string;
  amount?: { amountMinor: bigint; currency: string };
}): ChargeAnswer {
  if (charge.outcome === ChargeOutcome.CAPTURED)
    return { kind: "captured", chargeId: charge.chargeId, amount: charge.amount };
  return { kind: "declined", chargeId: charge.chargeId, declineCode: charge.declineCode || "declined" };
}

/**
 * What the gateway's SettleCharge answer means: the charge made with the key, or none, in which case the key is
 * void and nothing can be taken with it any more.
 */
export function settledCharge(answer: { found: boolean } & Parameters<typeof chargeAnswer>[0]): SettledCharge {
  return answer.found ? chargeAnswer(answer) : { kind: "voided" };
}
