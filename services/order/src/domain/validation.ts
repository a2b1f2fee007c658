// Precise checks of a CreateOrder request, before any I/O: each problem names the field and the value.

export interface OrderRequestFields {
  requestId: string;
  customerId: string;
  lines: readonly { productId: string; quantity: number }[];
  cardNumber: string;
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
  if (!/^\d{16}$/.test(request.cardNumber)) problems.push("card_number must be 16 digits");
  if (!/^[A-Z]{3}$/.test(request.currency))
    problems.push(`currency must be an ISO 4217 code such as USD, got "${request.currency}"`);
  return problems;
}
