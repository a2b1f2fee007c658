import type { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import type { DownstreamCall } from "./downstream-call.ts";

/**
 * Ends the call with DEADLINE_EXCEEDED when its deadline passes and abandons it, so the current attempt resets its
 * upstream stream (`call.signal` also aborts when the caller cancels or the proxy answered itself). Returns the
 * function that stops the timer, for when the call ends.
 */
export function enforceDeadline(call: DownstreamCall, deadline: Deadline, target: string): () => void {
  const started = Date.now();
  const timer = setTimeout(() => {
    call.fail(Status.DEADLINE_EXCEEDED, `deadline exceeded after ${Date.now() - started} ms waiting for ${target}`);
    call.abandon();
  }, deadline.remainingMs());
  return () => clearTimeout(timer);
}
