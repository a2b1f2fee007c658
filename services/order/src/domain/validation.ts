// Precise checks of the requests' fields, before any I/O: each problem names the field (and the value, when it is
// short and not card data). Free text is bounded here, at the edge, so that what is stored fits its column.

/** CancelOrder's reason: recorded on the order and carried by OrderCancelled. */
const CANCEL_REASON_MAX_CHARS = 500;
/** Request ids and customer ids (columns varchar(255)). */
const REQUEST_ID_MAX_CHARS = 200;
const CUSTOMER_ID_MAX_CHARS = 200;
/** Product ids: the catalogue's column is varchar(255). */
const PRODUCT_ID_MAX_CHARS = 255;
/** What the order's text columns (cancel reason, timeline detail) hold: varchar(1024), counted in characters. */
const STORED_TEXT_MAX_CHARS = 1024;

// C0 controls and DEL: PostgreSQL cannot store NUL, and none belongs in an id (they would forge lines in logs and
// views); a reason, written by a person, may have tabs and lines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** CancelOrder's reason: at most CANCEL_REASON_MAX_CHARS characters of text; empty is fine. */
export function cancelReasonProblem(reason: string): string | undefined {
  return textProblem("reason", reason, CANCEL_REASON_MAX_CHARS, CONTROL_BUT_LINES);
}

/** A problem with a free-text field: too long, or holding control characters; undefined when it is fine. */
function textProblem(field: string, value: string, maxChars: number, control = CONTROL): string | undefined {
  // UTF-16 units never undercount characters (PostgreSQL counts code points): count those only when it matters.
  const chars = value.length <= maxChars ? value.length : Array.from(value).length;
  if (chars > maxChars) return `${field} is longer than ${maxChars} characters (${chars})`;
  if (control.test(value)) return `${field} must not contain control characters`;
  return undefined;
}

/** Text composed from other services' words (a decline reason), cut to fit the column that stores it. */
export function clipped(text: string, maxChars = STORED_TEXT_MAX_CHARS): string {
  if (text.length <= maxChars) return text;
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : `${chars.slice(0, maxChars - 1).join("")}…`;
}

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
  const add = (problem: string | undefined) => problem && problems.push(problem);
  if (!request.requestId) add("request_id is required (a client-chosen key, for example a UUID)");
  else add(textProblem("request_id", request.requestId, REQUEST_ID_MAX_CHARS));
  if (!request.customerId) add("customer_id is required");
  else add(textProblem("customer_id", request.customerId, CUSTOMER_ID_MAX_CHARS));
  if (request.lines.length === 0) add("lines must contain at least one line");
  if (request.lines.length > 50) add(`lines may contain at most 50 lines, got ${request.lines.length}`);
  const seen = new Set<string>();
  request.lines.forEach((line, index) => {
    const field = `lines[${index}].product_id`;
    // Only a well-formed id is echoed (in the duplicate's message).
    const bad = line.productId ? textProblem(field, line.productId, PRODUCT_ID_MAX_CHARS) : `${field} is required`;
    if (bad) add(bad);
    else if (seen.has(line.productId)) add(`${field} "${line.productId}" appears twice`);
    seen.add(line.productId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > 1000) {
      add(`lines[${index}].quantity must be 1-1000, got ${line.quantity}`);
    }
  });
  // The card itself was checked by payment when it issued the token; here only the shape of what it issued.
  // Neither value is echoed: a client that mistakenly sends a card number in either field must not see it logged.
  if (!CARD_TOKEN.test(request.cardToken))
    add('card_token must be a token from PaymentService.TokenizeCard ("card_" and 32 characters)');
  if (!/^\d{4}$/.test(request.cardLast4)) add("card_last4 must be the card's last 4 digits");
  if (!/^[A-Z]{3}$/.test(request.currency))
    add(`currency must be an ISO 4217 code such as USD, got ${JSON.stringify(clipped(request.currency, 8))}`);
  return problems;
}
