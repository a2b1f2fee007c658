const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a UUID (the shop's order and payment ids), so bad ids are refused before any lookup. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
