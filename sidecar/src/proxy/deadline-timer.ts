import type { Deadline } from "../resilience/deadline.ts";
import type { DownstreamCall } from "./downstream-call.ts";
import { Status } from "./grpc-status.ts";

/**
 * Ends the call with DEADLINE_EXCEEDED when its deadline passes and abandons it, so the current attempt resets its
 * upstream stream (the call's signal also aborts when the caller cancels or the proxy answered itself). Call the
 * returned stop() when the call ends.
 */
export function enforceDeadline(call: DownstreamCall, deadline: Deadline, target: string) {
  const started = Date.now();
  const timer = setTimeout(() => {
    call.fail(Status.DEADLINE_EXCEEDED, `deadline exceeded after ${Date.now() - started} ms waiting for ${target}`);
    call.abandon();
  }, deadline.remainingMs());
  return {
    signal: call.signal,
    stop: () => clearTimeout(timer),
  };
}
