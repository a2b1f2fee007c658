import { describe, expect, it } from "vitest";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { Status } from "../grpc/status.ts";
import { type BreakerState, CircuitBreaker } from "./circuit-breaker.ts";

const outcome = (code: number, extra: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  code,
  message: "",
  committed: false,
  neverProcessed: false,
  transportFailure: false,
  cancelled: false,
  ...extra,
});
const config = {
  mode: "consecutive" as const,
  consecutiveFailures: 2,
  halfOpenAfterMs: 1000,
  failOn: ["UNAVAILABLE" as const],
  failureRatio: 0.5,
  windowMs: 10_000,
  minimumRequestsPerSecond: 5,
};

describe("CircuitBreaker", () => {
  it("opens on consecutive failures, fails fast, lets one probe through after halfOpenAfterMs, and closes on success", () => {
    const changes: BreakerState[] = [];
    const breaker = new CircuitBreaker(config, (state) => changes.push(state));
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.state).toBe("closed");
    breaker.record(outcome(Status.UNAVAILABLE, { transportFailure: true }), 0);
    expect(breaker.state).toBe("open");
    expect(breaker.tryPass(999)).toBe(false);
    expect(breaker.tryPass(1000)).toBe(true);
    expect(breaker.state).toBe("half_open");
    expect(breaker.tryPass(1001)).toBe(false);
    breaker.record(outcome(Status.OK), 1002);
    expect(breaker.state).toBe("closed");
    expect(changes).toEqual(["open", "half_open", "closed"]);
  });

  it("reopens when the probe fails, and counts neither statuses it is not told to nor cancelled attempts", () => {
    const breaker = new CircuitBreaker(config);
    breaker.record(outcome(Status.NOT_FOUND), 0);
    breaker.record(outcome(Status.CANCELLED, { cancelled: true, transportFailure: true }), 0);
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.state).toBe("closed");
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.tryPass(1000)).toBe(true);
    breaker.record(outcome(Status.UNAVAILABLE), 1500);
    expect(breaker.state).toBe("open");
    expect(breaker.tryPass(2499)).toBe(false);
    expect(breaker.tryPass(2500)).toBe(true);
  });
});
