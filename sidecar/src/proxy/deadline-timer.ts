import type { Deadline } from "../resilience/deadline.ts";
import type { DownstreamCall } from "./downstream-call.ts";
import { Status } from "./grpc-status.ts";

/**
 * Ends the call with DEADLINE_EXCEEDED when its deadline passes, and aborts the returned signal then, when the
 * caller cancels, or when the proxy answered the caller itself, so the current attempt resets its upstream stream. Call the returned stop() when the call ends.
 */
export function enforceDeadline(call: DownstreamCall, deadline: Deadline, target: string) {
  const abort = new AbortController();
  const started = Date.now();
  const onCancel = () => abort.abort();
  call.cancelled.signal.addEventListener("abort", onCancel, { once: true });
  call.answered.signal.addEventListener("abort", onCancel, { once: true });
  const timer = setTimeout(() => {
    call.fail(Status.DEADLINE_EXCEEDED, `deadline exceeded after ${Date.now() - started} ms waiting for ${target}`);
    abort.abort();
  }, deadline.remainingMs());
  return {
    signal: abort.signal,
    stop() {
      clearTimeout(timer);
      call.cancelled.signal.removeEventListener("abort", onCancel);
      call.answered.signal.removeEventListener("abort", onCancel);
    },
  };
}
