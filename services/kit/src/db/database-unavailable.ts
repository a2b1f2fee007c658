// PostgreSQL error classes 08 (connection exception) and 57P (operator intervention: shutdown, restart), the socket
// errors of a server that is gone, and the pool giving up: the database is down or restarting, and the same call
// may succeed once it is back (the sidecar retries it when the method is idempotent).
const UNAVAILABLE_CODES = new Set(["57P01", "57P02", "57P03", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);
// Matched anywhere in the message: MikroORM's DriverException puts the statement in front of the driver's words
// ("select ... - Connection terminated unexpectedly"), and does not always carry the server's code.
const UNAVAILABLE_MESSAGES: [RegExp, string][] = [
  [/Connection terminated/, "connection terminated"],
  [/Connection ended unexpectedly/, "connection ended"],
  [/terminating connection due to administrator command/, "57P01"],
  [/the database system is (shutting down|starting up|in recovery mode)/, "57P03"],
  [/is not queryable/, "connection closed"],
  [/Knex: Timeout acquiring a connection/, "no connection in time"],
];

/**
 * Why the database is unavailable, for the caller (a code, never the server's address); undefined when the error
 * is something else. Drivers wrap errors (MikroORM copies the driver's `code`), so causes are followed too.
 */
export function databaseUnavailable(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return code;
    const message = current.message;
    const known = UNAVAILABLE_MESSAGES.find(([pattern]) => pattern.test(message));
    if (known) return known[1];
    current = current.cause;
  }
  return undefined;
}
