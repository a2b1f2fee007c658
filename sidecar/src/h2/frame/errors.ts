import { ErrorCode, errorCodeName } from "./types.ts";

/**
 * Whether a violation ends the whole connection (answer with GOAWAY) or only one stream (answer with RST_STREAM),
 * RFC 9113 section 5.4.
 */
export type ErrorScope = "connection" | "stream";

/** A frame that breaks RFC 9113: what to answer (scope and code), on which stream, and why. */
export class FrameError extends Error {
  override readonly name: string = "FrameError";

  constructor(
    readonly scope: ErrorScope,
    readonly code: ErrorCode,
    /** The stream the frame was on (0 for the connection). */
    readonly streamId: number,
    message: string,
  ) {
    super(`${scope} error ${errorCodeName(code)} on stream ${streamId}: ${message}`);
  }
}

/**
 * A header block grew past the configured bound. The block cannot be skipped without desynchronising HPACK
 * (RFC 9113 section 4.3), so the decoder stops; the distinct class lets the caller pick its answer (GOAWAY with
 * ENHANCE_YOUR_CALM or PROTOCOL_ERROR, after a 431 if it wants).
 */
export class HeaderBlockTooLargeError extends FrameError {
  override readonly name: string = "HeaderBlockTooLargeError";

  constructor(
    streamId: number,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      "connection",
      ErrorCode.ENHANCE_YOUR_CALM,
      streamId,
      `header block of at least ${size} bytes exceeds the limit of ${limit}`,
    );
  }
}
