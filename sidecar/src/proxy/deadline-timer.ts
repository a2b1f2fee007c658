import type { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import type { DownstreamCall } from "./downstream-call.ts";

function expire(call: DownstreamCall, target: string, started: number): void {
  call.fail(Status.DEADLINE_EXCEEDED, `deadline exceeded after ${Date.now() - started} ms waiting for ${target}`);
  call.abandon();
}

/**
 * Ends the call with DEADLINE_EXCEEDED when its deadline passes and abandons it, so the current attempt resets its
 * upstream stream. Returns the timer, to clear when the call ends first (its arguments ride on the timer: no closure).
 */
export function enforceDeadline(call: DownstreamCall, deadline: Deadline, target: string): NodeJS.Timeout {
  return setTimeout(expire, deadline.remainingMs(), call, target, Date.now());
}
