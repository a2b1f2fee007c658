// The order saga as the order service sees it: a pure state machine from saga inputs to a new status and the
// event to announce. Inventory and payment react to those events; this service never calls them to advance.
//
// A cancel, whatever its cause, moves the order to CANCELLING and announces OrderCancelled, which inventory and
// payment each answer: the order is CANCELLED only once both sides have reported that they hold nothing for it.
// Inputs may arrive in any order (each event type has its own consumer): the flags remember what a side reported,
// so every order of the same inputs ends in the same state.

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
  /** Inventory reported the stock held (InventoryReserved): a pending saga then waits for payment. */
  stockReserved: boolean;
  /** The stock side holds nothing for the order any more: it reported InventoryReleased or InventoryRejected. */
  stockSettled: boolean;
  /** The payment side has nothing captured and can capture nothing: it reported PaymentRefunded or PaymentFailed. */
  paymentSettled: boolean;
}

export type Announcement = { kind: "confirmed" } | { kind: "cancelled"; reason: string; refundRequired: boolean };

export interface SagaStep extends SagaState {
  /** The event to publish, if the step decides something others must act on. */
  announce?: Announcement;
  detail: string;
}

const CUSTOMER_CANCEL = "cancelled by the customer";

/** The next state of an order's saga after an input; inputs that change nothing are still recorded as steps. */
export function advance(state: SagaState, input: SagaInput): SagaStep {
  const pending = state.status === "PENDING";
  switch (input.kind) {
    case "inventory_reserved":
      return settle({ ...state, stockReserved: true }, "stock reserved");
    case "inventory_rejected": {
      const detail = `stock rejected: ${input.reason}`;
      const rejected = { ...state, stockSettled: true };
      // Nothing was reserved, so payment never got to charge: no refund can be due.
      return pending ? cancel(rejected, detail, false) : settle(rejected, detail);
    }
    case "payment_failed": {
      const detail = `payment failed: ${input.reason}`;
      const failed = { ...state, paymentSettled: true };
      return pending ? cancel(failed, detail, false) : settle(failed, detail);
    }
    case "payment_completed":
      return paymentCompleted(state);
    case "payment_refunded":
      return paymentRefunded({ ...state, paymentSettled: true });
    case "inventory_released":
      return settle({ ...state, stockSettled: true }, "stock released");
    case "cancel_requested":
      if (pending || state.status === "CONFIRMED") return cancel(state, input.reason || CUSTOMER_CANCEL, true);
      return settle(state, "cancel requested again");
    case "deadline_passed":
      if (pending) return cancel(state, "saga deadline passed", true);
      return settle(state, "saga deadline passed after the order was decided");
  }
}

/**
 * A capture confirms a pending order, unless a side already gave back its part (a refund reported before the
 * capture, which only an operator's refund racing the saga can cause): then the order is cancelled instead.
 */
function paymentCompleted(state: SagaState): SagaStep {
  if (state.status !== "PENDING")
    return settle(state, "payment captured after the order was decided; payment refunds it");
  if (state.paymentSettled) return cancel(state, "payment refunded before the order was confirmed", true);
  if (state.stockSettled) return cancel(state, "stock released before the order was confirmed", true);
  return { ...state, status: "CONFIRMED", announce: { kind: "confirmed" }, detail: "payment captured" };
}

/** A refund of a confirmed order (an operator's) cancels it; while pending it is remembered for the capture. */
function paymentRefunded(state: SagaState): SagaStep {
  if (state.status === "CONFIRMED") return cancel(state, "payment refunded", true);
  if (state.status === "PENDING")
    return settle(state, "payment refunded before the order was confirmed; its capture will cancel the order");
  return settle(state, "payment refunded");
}

/** Starts the cancel: CANCELLING until both sides have reported (at once CANCELLED when both already have). */
function cancel(state: SagaState, reason: string, refundRequired: boolean): SagaStep {
  return {
    ...settle({ ...state, status: "CANCELLING" }, reason),
    announce: { kind: "cancelled", reason, refundRequired },
  };
}

/** A cancelling order is CANCELLED once the stock side and the payment side have both reported. */
function settle(state: SagaState, detail: string): SagaStep {
  const done = state.status === "CANCELLING" && state.stockSettled && state.paymentSettled;
  return { ...state, status: done ? "CANCELLED" : state.status, detail };
}

/**
 * What an unfinished saga waits for, for people ("payment: refund", "inventory: release"): derived from the state
 * alone. Empty for a finished one.
 */
export function waitingFor(state: SagaState): string {
  if (state.status === "PENDING") return state.stockReserved ? "payment: charge" : "inventory: reservation";
  if (state.status !== "CANCELLING") return "";
  const missing: string[] = [];
  if (!state.paymentSettled) missing.push("payment: refund");
  if (!state.stockSettled) missing.push("inventory: release");
  return missing.join(", ");
}
