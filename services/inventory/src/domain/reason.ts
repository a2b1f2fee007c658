/** The length of the reason columns (varchar(1024): PostgreSQL counts characters, that is code points). */
export const REASON_MAX_CHARS = 1024;

/**
 * A reason as it can be stored: cut, with an ellipsis, to the column's length. A reason is composed from other
 * services' text (a cancel's reason, a prefix before it), so it must never make the write that records it fail.
 */
export function boundedReason(text: string, max = REASON_MAX_CHARS): string {
  if (text.length <= max) return text; // UTF-16 units never undercount code points
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}
