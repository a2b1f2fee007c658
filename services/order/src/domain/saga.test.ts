import { describe, expect, it } from "vitest";
import { advance, type SagaInput, type SagaState, waitingFor } from "./saga.ts";

const pending: SagaState = { status: "PENDING", stockReserved: false, stockSettled: false, paymentSettled: false };

function run(inputs: readonly SagaInput[], start = pending) {
  let state = start;
  const announced: string[] = [];
  for (const input of inputs) {
    const { announce, detail: _detail, ...next } = advance(state, input);
    if (announce) announced.push(announce.kind);
    state = next;
  }
  return { state, announced };
}

/** Every ordering of the inputs (a scenario has at most six, so at most 720 orderings). */
function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i] as T, ...tail];
  }
}

const reserved: SagaInput = { kind: "inventory_reserved" };
const rejected: SagaInput = { kind: "inventory_rejected", reason: "none left" };
const released: SagaInput = { kind: "inventory_released" };
const captured: SagaInput = { kind: "payment_completed" };
const failed: SagaInput = { kind: "payment_failed", reason: "card_declined" };
const refunded: SagaInput = { kind: "payment_refunded" };
const cancel: SagaInput = { kind: "cancel_requested", reason: "changed my mind" };
const deadline: SagaInput = { kind: "deadline_passed" };

describe("the order saga", () => {
  it("confirms when stock is reserved and payment captured", () => {
    expect(run([reserved, captured])).toEqual({
      state: { status: "CONFIRMED", stockReserved: true, stockSettled: false, paymentSettled: false },
      announced: ["confirmed"],
    });
  });

  it("cancels a pending order through CANCELLING: CANCELLED only once inventory and payment have both answered", () => {
    const cancelling = run([reserved, cancel]);
    expect(cancelling).toMatchObject({ state: { status: "CANCELLING" }, announced: ["cancelled"] });
    expect(run([released], cancelling.state).state.status).toBe("CANCELLING");
    expect(run([refunded], cancelling.state).state.status).toBe("CANCELLING");
    expect(run([released, failed], cancelling.state).state.status).toBe("CANCELLED");
  });

  it("takes a rejection or a failed charge as that side's answer: the other side must still answer", () => {
    const stockRejected = run([rejected]);
    expect(stockRejected).toMatchObject({
      state: { status: "CANCELLING", stockSettled: true },
      announced: ["cancelled"],
    });
    expect(run([failed], stockRejected.state).state.status).toBe("CANCELLED");
    const declined = run([reserved, failed]);
    expect(declined).toMatchObject({ state: { status: "CANCELLING", paymentSettled: true }, announced: ["cancelled"] });
    expect(run([released], declined.state).state.status).toBe("CANCELLED");
  });

  it("announces a cancel with a refund only when something can have been charged", () => {
    const refundRequired = (inputs: SagaInput[]) => {
      const steps = inputs.map((_, index) => {
        const before = run(inputs.slice(0, index)).state;
        return advance(before, inputs[index] as SagaInput).announce;
      });
      const announce = steps.find((step) => step?.kind === "cancelled");
      return announce?.kind === "cancelled" && announce.refundRequired;
    };
    expect(refundRequired([rejected])).toBe(false);
    expect(refundRequired([reserved, failed])).toBe(false);
    expect(refundRequired([cancel])).toBe(true);
    expect(refundRequired([reserved, deadline])).toBe(true);
    expect(refundRequired([reserved, captured, cancel])).toBe(true);
  });

  it("cancels a confirmed order that an operator refunded, keeping the refund as the payment side's answer", () => {
    const refundedByOperator = run([reserved, captured, refunded]);
    expect(refundedByOperator).toMatchObject({
      state: { status: "CANCELLING", paymentSettled: true, stockSettled: false },
      announced: ["confirmed", "cancelled"],
    });
    expect(run([released], refundedByOperator.state).state.status).toBe("CANCELLED");
  });

  it("remembers a refund reported before the capture: the capture then cancels instead of confirming", () => {
    const early = run([reserved, refunded]);
    expect(early).toMatchObject({ state: { status: "PENDING", paymentSettled: true }, announced: [] });
    expect(run([captured], early.state)).toMatchObject({
      state: { status: "CANCELLING", paymentSettled: true },
      announced: ["cancelled"],
    });
  });

  it("changes nothing for a capture reported after the cancel, nor for a second cancel or a late deadline", () => {
    const cancelling = run([reserved, cancel]).state;
    expect(run([captured, cancel, deadline], cancelling)).toEqual({ state: cancelling, announced: [] });
    const cancelled = run([released, failed], cancelling).state;
    expect(run([captured, cancel, deadline, refunded], cancelled)).toMatchObject({
      state: { status: "CANCELLED" },
      announced: [],
    });
  });

  it("cancels a stalled saga at its deadline and waits for both answers", () => {
    const timedOut = run([reserved, deadline]);
    expect(timedOut).toMatchObject({ state: { status: "CANCELLING" }, announced: ["cancelled"] });
    expect(run([released, refunded], timedOut.state).state.status).toBe("CANCELLED");
  });
});

describe("the order saga under any interleaving", () => {
  // Each scenario is the inputs one order's saga produces (the answers to OrderCancelled included); whatever order
  // the consumers apply them in, the order ends the same, announces its cancel exactly once, and never confirms
  // after announcing a cancel.
  const scenarios: { name: string; inputs: SagaInput[]; end: SagaState; cancels: number }[] = [
    {
      name: "confirmed",
      inputs: [reserved, captured],
      end: { status: "CONFIRMED", stockReserved: true, stockSettled: false, paymentSettled: false },
      cancels: 0,
    },
    {
      name: "stock rejected",
      inputs: [rejected, failed],
      end: { status: "CANCELLED", stockReserved: false, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "card declined",
      inputs: [reserved, failed, released, failed],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "cancelled before anything happened",
      inputs: [cancel, released, failed],
      end: { status: "CANCELLED", stockReserved: false, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "cancelled while the charge was in flight, or after the confirmation",
      inputs: [reserved, captured, cancel, released, refunded],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "cancelled before the charge, which then fails",
      inputs: [reserved, cancel, failed, released],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "deadline passed while the charge was in flight",
      inputs: [reserved, deadline, captured, released, refunded],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "refunded by an operator (payment answers the cancel with a second refund)",
      inputs: [reserved, captured, refunded, released, refunded],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "a customer cancel racing an operator refund",
      inputs: [reserved, captured, cancel, refunded, released, refunded],
      end: { status: "CANCELLED", stockReserved: true, stockSettled: true, paymentSettled: true },
      cancels: 1,
    },
    {
      name: "a refund the gateway refuses for good (no answer from payment)",
      inputs: [reserved, captured, cancel, released],
      end: { status: "CANCELLING", stockReserved: true, stockSettled: true, paymentSettled: false },
      cancels: 1,
    },
  ];

  for (const scenario of scenarios) {
    it(`converges: ${scenario.name}`, () => {
      let orderings = 0;
      for (const inputs of permutations(scenario.inputs)) {
        orderings++;
        const { state, announced } = run(inputs);
        const ordering = inputs.map((input) => input.kind).join(", ");
        expect(state, ordering).toEqual(scenario.end);
        expect(
          announced.filter((kind) => kind === "cancelled"),
          ordering,
        ).toHaveLength(scenario.cancels);
        const firstCancel = announced.indexOf("cancelled");
        expect(firstCancel < 0 || !announced.slice(firstCancel).includes("confirmed"), ordering).toBe(true);
      }
      expect(orderings).toBeGreaterThan(1);
    });
  }
});

describe("what a saga waits for", () => {
  it("names the side each unfinished state waits for, and nothing for a finished one", () => {
    expect(waitingFor(pending)).toBe("inventory: reservation");
    expect(waitingFor(run([reserved]).state)).toBe("payment: charge");
    expect(waitingFor(run([reserved, cancel]).state)).toBe("payment: refund, inventory: release");
    expect(waitingFor(run([reserved, captured, cancel, released]).state)).toBe("payment: refund");
    expect(waitingFor(run([reserved, captured, refunded]).state)).toBe("inventory: release");
    expect(waitingFor(run([reserved, captured]).state)).toBe("");
    expect(waitingFor(run([rejected, failed]).state)).toBe("");
  });
});
