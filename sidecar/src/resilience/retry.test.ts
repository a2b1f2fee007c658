import { describe, expect, it } from "vitest";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { backoffSchedule, retryReason } from "./retry.ts";

const policy = {
  maxAttempts: 3,
  retryOn: ["UNAVAILABLE" as const],
  initialBackoffMs: 10,
  maxBackoffMs: 40,
  perTryTimeoutMs: 0,
};
const outcome = (overrides: Partial<AttemptOutcome>): AttemptOutcome => ({
  code: 14,
  message: "",
  committed: false,
  neverProcessed: false,
  transportFailure: false,
  cancelled: false,
  ...overrides,
});
const context = { policy, idempotency: "idempotent" as const, attempts: 1, canReplay: true };

describe("retryReason", () => {
  it("retries idempotent methods on the configured statuses only", () => {
    expect(retryReason(outcome({}), context)).toBe("status");
    expect(retryReason(outcome({}), { ...context, idempotency: "no_side_effects" })).toBe("status");
    expect(retryReason(outcome({ code: 13 }), context)).toBeUndefined();
    expect(retryReason(outcome({}), { ...context, idempotency: "unknown" })).toBeUndefined();
  });

  it("retries any method that provably never reached the app", () => {
    expect(retryReason(outcome({ neverProcessed: true }), { ...context, idempotency: "unknown" })).toBe(
      "never_processed",
    );
    expect(retryReason(outcome({ code: 8, shed: true }), { ...context, idempotency: "unknown" })).toBe(
      "never_processed",
    );
    expect(retryReason(outcome({ code: 8, shed: true }), { ...context, attempts: 3 })).toBeUndefined();
  });

  it("never retries after data reached the caller, after a cancel, without a replayable body, or past maxAttempts", () => {
    expect(retryReason(outcome({ committed: true, neverProcessed: true }), context)).toBeUndefined();
    expect(retryReason(outcome({ cancelled: true }), context)).toBeUndefined();
    expect(retryReason(outcome({ neverProcessed: true }), { ...context, canReplay: false })).toBeUndefined();
    expect(retryReason(outcome({ neverProcessed: true }), { ...context, attempts: 3 })).toBeUndefined();
  });
});

describe("backoffSchedule", () => {
  it("stays within the growing cap, never above maxBackoffMs", () => {
    const schedule = backoffSchedule(policy);
    const delays = Array.from({ length: 8 }, () => schedule.next());
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(40);
    }
  });
});
