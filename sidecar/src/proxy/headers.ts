import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";

// Connection-specific headers are forbidden in HTTP/2 (RFC 9113, 8.2.2); pseudo-headers are rebuilt per hop.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

/** Copies the end-to-end headers of a message: everything but pseudo-headers and connection-specific ones. */
export function endToEndHeaders(headers: IncomingHttpHeaders, skip?: ReadonlySet<string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === 58 /* ":" */ || HOP_BY_HOP.has(name) || skip?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
