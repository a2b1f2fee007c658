/**
 * Where a payment is. PENDING is never committed by the charge (a try that gets no outcome rolls back); it is the
 * state of a row a step has just claimed and not yet decided. REFUND_FAILED: the gateway refused the refund of a
 * captured payment for good; a person settles it.
 */
export type PaymentState =
  | "PENDING"
  | "CAPTURED"
  | "DECLINED"
  | "REFUNDED"
  | "FAILED"
  | "REFUND_FAILED"
  /** A refund is decided and the gateway has not answered it yet: payment retries it (PaymentRefundRequested). */
  | "REFUNDING";
