import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { afterRefundFailure, cancelStep } from "./compensation.ts";

describe("cancelStep", () => {
  it("refunds a captured payment, and finishes a refund still in progress (the same key: made once)", () => {
    expect(cancelStep("CAPTURED", true)).toEqual({ kind: "refund" });
    expect(cancelStep("REFUNDING", true)).toEqual({ kind: "refund" });
  });

  it("settles with the gateway a charge without a recorded outcome that may have been sent", () => {
    expect(cancelStep("PENDING", true)).toEqual({ kind: "settle" });
  });

  it("answers PaymentFailed when nothing is or can be captured", () => {
    expect(cancelStep("PENDING", false)).toEqual({ kind: "failed" });
    expect(cancelStep("DECLINED", true)).toEqual({ kind: "failed" });
    expect(cancelStep("FAILED", true)).toEqual({ kind: "failed" });
  });

  it("announces a refund only once, and leaves a refused refund parked", () => {
    expect(cancelStep("REFUNDED", true)).toEqual({ kind: "none" });
    expect(cancelStep("REFUND_FAILED", true)).toEqual({ kind: "none" });
  });
});

describe("afterRefundFailure", () => {
  it("parks a refund the gateway refuses for good, with the reason", () => {
    expect(afterRefundFailure({ code: Code.FailedPrecondition, message: "charge ch_1 is already refunded" })).toEqual({
      kind: "refused",
      reason: "the payment gateway refused the refund: charge ch_1 is already refunded",
    });
    for (const code of [Code.NotFound, Code.InvalidArgument, Code.OutOfRange])
      expect(afterRefundFailure({ code, message: "x" }).kind).toBe("refused");
  });

  it("tries again after any other failure: the gateway away, slow, or broken for a moment", () => {
    for (const code of [Code.Unavailable, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.PermissionDenied])
      expect(afterRefundFailure({ code, message: "x" })).toEqual({ kind: "retry" });
  });
});
