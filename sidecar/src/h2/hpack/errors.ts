/**
 * A malformed header block (RFC 7541 section 2.1 / RFC 9113 section 4.3): the decoding context can no longer be
 * trusted, so HTTP/2 treats it as a connection error of type COMPRESSION_ERROR.
 */
export class HpackError extends Error {
  /** The HTTP/2 error code to send in GOAWAY. */
  readonly code = "COMPRESSION_ERROR" as const;
  override readonly name = "HpackError";
}
