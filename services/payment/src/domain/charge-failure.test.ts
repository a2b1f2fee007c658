import { Code } from "@connectrpc/connect";
import { ChargeOutcome } from "@mesh/proto/shop/payment/v1/provider_pb";
import { describe, expect, it } from "vitest";
import { afterChargeFailure, chargeRetryDelayMs, settledCharge } from "./charge-failure.ts";

const unavailable = { code: Code.Unavailable, message: "upstream provider: no endpoints available" };

describe("afterChargeFailure", () => {
  it("retries a gateway that did not process the charge, with growing pauses, capped, however long it takes", () => {
    const decisions = [1, 2, 3, 4, 5, 30, 10_000].map((attempt) => afterChargeFailure(unavailable, attempt));
    expect(decisions).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000].map((delayMs) => ({ kind: "retry", delayMs })));
    for (const code of [Code.ResourceExhausted, Code.Aborted])
      expect(afterChargeFailure({ code, message: "x" }, 1).kind).toBe("retry");
  });

  it("settles a charge whose answer was lost, before anything final is recorded", () => {
    for (const code of [Code.DeadlineExceeded, Code.Unknown, Code.Internal, Code.Canceled, Code.DataLoss])
      expect(afterChargeFailure({ code, message: "x" }, 1)).toEqual({ kind: "settle" });
  });

  it("fails at once on a definite answer of the gateway, saying why", () => {
    expect(afterChargeFailure({ code: Code.InvalidArgument, message: "card_number: not a number" }, 1)).toEqual({
      kind: "fail",
      reason: "payment gateway error: card_number: not a number",
    });
    expect(afterChargeFailure({ code: Code.FailedPrecondition, message: "idempotency key voided" }, 3).kind).toBe(
      "fail",
    );
  });

  it("bounds the gateway's text so that the reason fits its column", () => {
    const decision = afterChargeFailure({ code: Code.InvalidArgument, message: "y".repeat(5000) }, 1);
    expect(decision.kind === "fail" && Array.from(decision.reason)).toHaveLength(1024);
  });

  it("never lets the pause overflow for a charge tried very often", () => {
    expect(chargeRetryDelayMs(5000)).toBe(2000);
    expect(chargeRetryDelayMs(0)).toBe(250);
  });
});

describe("settledCharge", () => {
  const found = { found: true, chargeId: "ch_1", declineCode: "" };

  it("reports the capture the gateway made, with its amount", () => {
    const amount = { amountMinor: 899n, currency: "USD" };
    expect(settledCharge({ ...found, outcome: ChargeOutcome.CAPTURED, amount })).toEqual({
      kind: "captured",
      chargeId: "ch_1",
      amount,
    });
  });

  it("reports a declined charge: nothing was taken", () => {
    expect(settledCharge({ ...found, outcome: ChargeOutcome.DECLINED, declineCode: "card_declined" })).toEqual({
      kind: "declined",
      chargeId: "ch_1",
      declineCode: "card_declined",
    });
  });

  it("reports a voided key when no charge was made", () => {
    expect(settledCharge({ found: false, chargeId: "", outcome: ChargeOutcome.UNSPECIFIED, declineCode: "" })).toEqual({
      kind: "voided",
    });
  });
});
