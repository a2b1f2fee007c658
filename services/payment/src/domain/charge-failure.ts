import { Code } from "@connectrpc/connect";

/**
 * Failures that say nothing about the card: the gateway unreachable (no endpoints, breaker open, refused), slow,
 * overloaded or broken for a moment. The sidecar already retried what it safely could; a later delivery may get
 * through. Anything else (an invalid argument, a permission) is the gateway's definite answer.
 */
const TRANSIENT = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
]);

/** Deliveries of a charge that fails transiently, when its event carries no saga deadline (an older producer). */
export const ATTEMPTS_WITHOUT_DEADLINE = 4;

/** The longest pause between two tries of a charge: a gateway back from an outage is tried again within it. */
export const MAX_RETRY_DELAY_MS = 2000;
const FIRST_RETRY_DELAY_MS = 250;

export type ChargeFailureDecision = { kind: "retry"; delayMs: number } | { kind: "fail"; reason: string };

/**
 * What to do about a charge the gateway did not answer with an outcome: try again later (the payment stays
 * pending: no order is cancelled for an outage of the gateway) while the saga's deadline allows, or fail it.
 */
export function afterChargeFailure(
  failure: { code: Code; message: string },
  attempt: number,
  now: Date,
  sagaDeadline: Date | undefined,
): ChargeFailureDecision {
  if (!TRANSIENT.has(failure.code)) return { kind: "fail", reason: `payment gateway error: ${failure.message}` };
  const delayMs = Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** (attempt - 1));
  if (sagaDeadline === undefined) {
    if (attempt < ATTEMPTS_WITHOUT_DEADLINE) return { kind: "retry", delayMs };
    return { kind: "fail", reason: `payment gateway error: ${failure.message}` };
  }
  if (now.getTime() + delayMs < sagaDeadline.getTime()) return { kind: "retry", delayMs };
  return { kind: "fail", reason: `payment gateway unavailable until the saga's deadline: ${failure.message}` };
}
