import { Code } from "@connectrpc/connect";

/** Failures of the gateway that a later attempt may not see (the sidecar already retried what it safely could). */
const TRANSIENT = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
]);

/** Whether a failed charge should be tried again with the next delivery, or given up as FAILED now. */
export function retryCharge(code: Code, attempt: number, lastAttempt: number): boolean {
  return TRANSIENT.has(code) && attempt < lastAttempt;
}
