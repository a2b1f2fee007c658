/** What a client sends before its first frame (RFC 9113 section 3.4). */
export const CONNECTION_PREFACE: Buffer = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Checks the bytes a server received so far against the preface, so a wrong start is rejected as soon as it shows
 * (an HTTP/1.1 request, a TLS record on a cleartext port) instead of after 24 bytes.
 */
export function checkPreface(received: Buffer): "complete" | "incomplete" | "mismatch" {
  const compared = Math.min(received.length, CONNECTION_PREFACE.length);
  if (received.compare(CONNECTION_PREFACE, 0, compared, 0, compared) !== 0) return "mismatch";
  return compared === CONNECTION_PREFACE.length ? "complete" : "incomplete";
}
