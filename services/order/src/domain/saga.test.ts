import { describe, expect, it } from "vitest";
import { advance, type SagaInput, type SagaState } from "./saga.ts";

const pending: SagaState = { status: "PENDING", refunded: false, released: false };

function run(inputs: SagaInput[], start = pending) {
  let state = start;
  const announced: string[] = [];
  for (const input of inputs) {
    const step = advance(state, input);
    if (step.announce) announced.push(step.announce.kind);
    state = { status: step.status, refunded: step.refunded, released: step.released };
  }
  return { state, announced };
}

describe("the order saga", () => {
  it("confirms when stock is reserved and payment captured", () => {
    expect(run([{ kind: "inventory_reserved" }, { kind: "payment_completed" }])).toEqual({
      state: { status: "CONFIRMED", refunded: false, released: false },
      announced: ["confirmed"],
    });
  });

  it("cancels on rejected stock or failed payment, and announces the cancel once", () => {
    expect(run([{ kind: "inventory_rejected", reason: "none left" }]).state.status).toBe("CANCELLED");
    const declined = run([
      { kind: "inventory_reserved" },
      { kind: "payment_failed", reason: "card_declined" },
      { kind: "inventory_released" },
    ]);
    expect(declined).toMatchObject({ state: { status: "CANCELLED" }, announced: ["cancelled"] });
  });

  it("cancels a confirmed order only once both the refund and the release are reported", () => {
    const confirmed = run([{ kind: "payment_completed" }]).state;
    const cancelling = run(
      [{ kind: "cancel_requested", reason: "changed my mind" }, { kind: "payment_refunded" }],
      confirmed,
    );
    expect(cancelling.state.status).toBe("CANCELLING");
    expect(run([{ kind: "inventory_released" }], cancelling.state).state.status).toBe("CANCELLED");
  });

  it("cancels a stalled saga at its deadline, and ignores what arrives after the decision", () => {
    const timedOut = run([{ kind: "deadline_passed" }, { kind: "payment_completed" }, { kind: "deadline_passed" }]);
    expect(timedOut).toMatchObject({ state: { status: "CANCELLED" }, announced: ["cancelled"] });
  });
});
