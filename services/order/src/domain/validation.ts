// Precise checks of a CreateOrder request, before any I/O: each problem names the field and the value.

/** The shape of payment's card tokens ("card_" and 32 base64url characters); the value is opaque to the order. */
const CARD_TOKEN = /^card_[\w-]{32}$/;

export interface OrderRequestFields {
  requestId: string;
  customerId: string;
  lines: readonly { productId: string; quantity: number }[];
  cardToken: string;
  cardLast4: string;
  currency: string;
}

export function orderRequestProblems(request: OrderRequestFields): string[] {
  const problems: string[] = [];
  if (!request.requestId) problems.push("request_id is required (a client-chosen key, for example a UUID)");
  else if (request.requestId.length > 200) problems.push("request_id is longer than 200 characters");
  if (!request.customerId) problems.push("customer_id is required");
  if (request.lines.length === 0) problems.push("lines must contain at least one line");
  if (request.lines.length > 50) problems.push(`lines may contain at most 50 lines, got ${request.lines.length}`);
  const seen = new Set<string>();
  request.lines.forEach((line, index) => {
    if (!line.productId) problems.push(`lines[${index}].product_id is required`);
    if (seen.has(line.productId)) problems.push(`lines[${index}].product_id "${line.productId}" appears twice`);
    seen.add(line.productId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > 1000) {
      problems.push(`lines[${index}].quantity must be 1-1000, got ${line.quantity}`);
    }
  });
  // The card itself was checked by payment when it issued the token; here only the shape of what it issued.
  // Neither value is echoed: a client that mistakenly sends a card number in either field must not see it logged.
  if (!CARD_TOKEN.test(request.cardToken))
    problems.push('card_token must be a token from PaymentService.TokenizeCard ("card_" and 32 characters)');
  if (!/^\d{4}$/.test(request.cardLast4)) problems.push("card_last4 must be the card's last 4 digits");
  if (!/^[A-Z]{3}$/.test(request.currency))
    problems.push(`currency must be an ISO 4217 code such as USD, got "${request.currency}"`);
  return problems;
}
