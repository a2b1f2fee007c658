import { Code } from "@connectrpc/connect";
import type { PaymentState } from "./payment-state.ts";
import { boundReason } from "./reason.ts";

export type CancelStep =
  /** Captured, or a refund in progress: refund it (PaymentRefunded, or REFUND_FAILED when the gateway refuses). */
  | { kind: "refund" }
  /** No outcome recorded, and a charge may have been sent: ask the gateway before answering. */
  | { kind: "settle" }
  /** Nothing was or can be captured: answer PaymentFailed. */
  | { kind: "failed" }
  /**
   * Refunded already, and announced then with PaymentRefunded (by whichever of a refund and a cancel made it; the
   * order takes that one event as the payment side settled): one refund, one event. Or REFUND_FAILED: parked for a
   * person, nothing to announce.
   */
  | { kind: "none" };

/**
 * What payment does for an order's OrderCancelled, given its payment (locked) and whether a charge of the order may
 * have been sent to the gateway (its card was claimed for it: a charge is sent only after that).
 */
export function cancelStep(status: PaymentState, chargeMayHaveBeenSent: boolean): CancelStep {
  switch (status) {
    case "CAPTURED":
    case "REFUNDING":
      return { kind: "refund" };
    case "PENDING":
      return chargeMayHaveBeenSent ? { kind: "settle" } : { kind: "failed" };
    case "DECLINED":
    case "FAILED":
      return { kind: "failed" };
    case "REFUNDED":
    case "REFUND_FAILED":
      return { kind: "none" };
  }
}

/**
 * Answers with which the gateway refuses a refund for good: nothing to refund (no such captured charge), already
 * refunded under another key, or a request it will never take. Anything else (unreachable, slow, broken for a
 * moment, misconfigured) may pass later: the refund is tried again, with the same key, so it is made at most once.
 */
const REFUSED = new Set([Code.NotFound, Code.FailedPrecondition, Code.InvalidArgument, Code.OutOfRange]);

export type RefundFailureDecision = { kind: "retry" } | { kind: "refused"; reason: string };

/** What to do about a RefundCharge that failed. */
export function afterRefundFailure(failure: { code: Code; message: string }): RefundFailureDecision {
  if (!REFUSED.has(failure.code)) return { kind: "retry" };
  return { kind: "refused", reason: boundReason("the payment gateway refused the refund: ", failure.message) };
}
