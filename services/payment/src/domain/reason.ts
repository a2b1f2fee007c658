/** What payment's reason columns (varchar(1024)) hold: PostgreSQL counts characters, that is code points. */
export const REASON_MAX_CHARS = 1024;

/**
 * A prefix of ours and free text from elsewhere (a gateway's error, an order's cancel reason), cut so that the whole
 * fits in max characters with the prefix intact: the text ends with an ellipsis when it was cut. A reason must never
 * make the write that records it fail.
 */
export function boundReason(prefix: string, text: string, max = REASON_MAX_CHARS): string {
  const whole = prefix + text;
  if (whole.length <= max) return whole; // UTF-16 units never undercount code points
  const chars = Array.from(whole);
  if (chars.length <= max) return whole;
  return `${chars.slice(0, max - 1).join("")}…`;
}
