import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from "cockatiel";
import type { RetryPolicy } from "../config/schema.ts";
import type { Idempotency } from "../descriptors/method-catalog.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { statusName } from "../grpc/status.ts";

export type RetryReason = "status" | "never_processed" | "per_try_timeout";

export interface RetryContext {
  policy: RetryPolicy;
  idempotency: Idempotency;
  /** Attempts made so far, the one that just ended included. */
  attempts: number;
  /** The request can be sent again: its body was buffered in full (bodies over the buffer limit are not). */
  canReplay: boolean;
}

/**
 * Why the call may be tried again, or undefined when it may not. Any method may be retried when the request provably
 * never reached the app, as this sidecar saw it (a refused connection, REFUSED_STREAM, GOAWAY) or as the upstream's
 * sidecar said in its own shed answer (an app's word is never taken: sidecars drop mesh-internal fields from what
 * apps send); only idempotent ones (NO_SIDE_EFFECTS, IDEMPOTENT) on the configured statuses or after a per-try
 * timeout (the request may have run: a method with side effects is never sent twice); none once response data went
 * to the caller.
 */
export function retryReason(outcome: AttemptOutcome, context: RetryContext): RetryReason | undefined {
  if (outcome.committed || outcome.cancelled || !context.canReplay) return undefined;
  if (context.attempts >= context.policy.maxAttempts) return undefined;
  if (outcome.neverProcessed || outcome.shed) return "never_processed";
  if (context.idempotency === "unknown") return undefined;
  if (outcome.timedOut) return "per_try_timeout";
  return context.policy.retryOn.includes(statusName(outcome.code) as never) ? "status" : undefined;
}

/** Exponential backoff with full jitter (cockatiel), doubling from initialBackoffMs up to maxBackoffMs. */
export function backoffSchedule(policy: RetryPolicy): { next(): number } {
  let backoff: IBackoff<unknown> | undefined;
  const factory = new ExponentialBackoff({
    initialDelay: policy.initialBackoffMs,
    maxDelay: policy.maxBackoffMs,
    generator: fullJitterGenerator,
  });
  return {
    next() {
      backoff = backoff ? backoff.next(undefined) : factory.next();
      return backoff.duration;
    },
  };
}
