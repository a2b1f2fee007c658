import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ATTEMPTS_WITHOUT_DEADLINE, afterChargeFailure } from "./charge-failure.ts";

const NOW = new Date("2026-11-29T12:00:00Z");
const inSeconds = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const unavailable = { code: Code.Unavailable, message: "upstream provider: no endpoints available" };

describe("afterChargeFailure", () => {
  it("retries an unreachable gateway with growing pauses, capped, while the saga's deadline allows", () => {
    const delays = [1, 2, 3, 4, 5, 30].map((attempt) => afterChargeFailure(unavailable, attempt, NOW, inSeconds(60)));
    expect(delays).toEqual([250, 500, 1000, 2000, 2000, 2000].map((delayMs) => ({ kind: "retry", delayMs })));
  });

  it("treats breaker-open, deadline and overload answers as transient too", () => {
    for (const code of [Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted, Code.Internal, Code.Unknown])
      expect(afterChargeFailure({ code, message: "x" }, 1, NOW, inSeconds(60)).kind).toBe("retry");
  });

  it("fails once the next try would come after the saga's deadline, saying why", () => {
    expect(afterChargeFailure(unavailable, 4, NOW, inSeconds(1.9))).toEqual({
      kind: "fail",
      reason: "payment gateway unavailable until the saga's deadline: upstream provider: no endpoints available",
    });
    expect(afterChargeFailure(unavailable, 4, NOW, inSeconds(2.1)).kind).toBe("retry");
  });

  it("fails at once on a definite answer of the gateway", () => {
    expect(
      afterChargeFailure({ code: Code.InvalidArgument, message: "card_number: not a number" }, 1, NOW, inSeconds(60)),
    ).toEqual({ kind: "fail", reason: "payment gateway error: card_number: not a number" });
  });

  it("without a deadline in the event (an older producer), gives up after a few deliveries", () => {
    expect(afterChargeFailure(unavailable, ATTEMPTS_WITHOUT_DEADLINE - 1, NOW, undefined).kind).toBe("retry");
    expect(afterChargeFailure(unavailable, ATTEMPTS_WITHOUT_DEADLINE, NOW, undefined)).toEqual({
      kind: "fail",
      reason: "payment gateway error: upstream provider: no endpoints available",
    });
  });
});
