// The simulated gateway's documented behaviour (see shop.payment.v1.PaymentProviderService).

export type ChargeDecision = { kind: "captured" } | { kind: "declined"; code: string } | { kind: "processing_error" };

const DECLINES: Record<string, string> = {
  "4000000000000002": "card_declined",
  "4000000000009995": "insufficient_funds",
};
const PROCESSING_ERROR = "4000000000000119";

export function isCardNumber(card: string): boolean {
  return /^\d{16}$/.test(card);
}

/** What the gateway does with a charge to this card. */
export function decideCharge(card: string): ChargeDecision {
  if (card === PROCESSING_ERROR) return { kind: "processing_error" };
  const declined = DECLINES[card];
  return declined ? { kind: "declined", code: declined } : { kind: "captured" };
}
