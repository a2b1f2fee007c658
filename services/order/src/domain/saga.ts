// The order saga as the order service sees it: a pure state machine from saga inputs to a new status and the
// event to announce. Inventory and payment react to those events; this service never calls them to advance.

export type OrderState = "PENDING" | "CONFIRMED" | "CANCELLING" | "CANCELLED";

export type SagaInput =
  | { kind: "inventory_reserved" }
  | { kind: "inventory_rejected"; reason: string }
  | { kind: "payment_completed" }
  | { kind: "payment_failed"; reason: string }
  | { kind: "inventory_released" }
  | { kind: "payment_refunded" }
  | { kind: "cancel_requested"; reason: string }
  | { kind: "deadline_passed" };

export interface SagaState {
  status: OrderState;
  /** While CANCELLING a confirmed order: what compensation has been reported done. */
  refunded: boolean;
  released: boolean;
}

export interface SagaStep {
  status: OrderState;
  refunded: boolean;
  released: boolean;
  /** The event to publish, if the step decides something others must act on. */
  announce?: { kind: "confirmed" } | { kind: "cancelled"; reason: string; refundRequired: boolean };
  detail: string;
}

const stay = (state: SagaState, detail: string): SagaStep => ({ ...state, detail });

/** The next state of an order's saga after an input; inputs that change nothing are still recorded as steps. */
export function advance(state: SagaState, input: SagaInput): SagaStep {
  const { status } = state;
  switch (input.kind) {
    case "inventory_reserved":
      return stay(state, "stock reserved");
    case "inventory_rejected":
      if (status !== "PENDING") return stay(state, `stock rejected: ${input.reason}`);
      return cancel(state, `stock rejected: ${input.reason}`, false);
    case "payment_completed":
      if (status !== "PENDING") return stay(state, "payment captured after the order was decided; payment refunds it");
      return { ...state, status: "CONFIRMED", announce: { kind: "confirmed" }, detail: "payment captured" };
    case "payment_failed":
      if (status !== "PENDING") return stay(state, `payment failed: ${input.reason}`);
      return cancel(state, `payment failed: ${input.reason}`, false);
    case "cancel_requested":
      if (status === "PENDING") return cancel(state, input.reason || "cancelled by the customer", true);
      if (status === "CONFIRMED") {
        const reason = input.reason || "cancelled by the customer";
        return {
          ...state,
          status: "CANCELLING",
          announce: { kind: "cancelled", reason, refundRequired: true },
          detail: reason,
        };
      }
      return stay(state, "cancel requested again");
    case "deadline_passed":
      if (status !== "PENDING") return stay(state, "saga deadline passed after the order was decided");
      return cancel(state, "saga deadline passed", true);
    case "inventory_released":
      return compensate({ ...state, released: true }, "stock released");
    case "payment_refunded":
      return compensate({ ...state, refunded: true }, "payment refunded");
  }
}

function cancel(state: SagaState, reason: string, refundRequired: boolean): SagaStep {
  return { ...state, status: "CANCELLED", announce: { kind: "cancelled", reason, refundRequired }, detail: reason };
}

/** A confirmed order being cancelled is CANCELLED once both its refund and its stock release are reported. */
function compensate(state: SagaState, detail: string): SagaStep {
  if (state.status === "CANCELLING" && state.refunded && state.released)
    return { ...state, status: "CANCELLED", detail };
  return { ...state, detail };
}
