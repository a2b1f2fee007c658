import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { decodeGrpcMessage, Status } from "../grpc/status.ts";
import type { DownstreamCall } from "./downstream-call.ts";
import { endToEndHeaders, headerValue } from "./headers.ts";

export interface AttemptRequest {
  call: DownstreamCall;
  session: ClientHttp2Session;
  /** The request headers for this attempt, pseudo-headers and grpc-timeout included. */
  headers: OutgoingHttpHeaders;
  /** Aborting ends the attempt at once and resets the upstream stream. */
  signal: AbortSignal;
  /** Names the upstream in messages, for example `inventory (127.0.0.1:15000)`. */
  target: string;
  /** Turns the upstream's response headers into what the caller gets, when the response commits. */
  commitHeaders: (headers: OutgoingHttpHeaders) => OutgoingHttpHeaders;
  /**
   * Response bytes to hold back until the upstream's trailers arrive (0: relay at once). A unary response held
   * whole reaches the caller only once it is complete, so an upstream that dies mid-response can still be retried.
   */
  holdResponseBytes?: number;
}

/** An attempt's outcome, with the upstream's own headers when it answered without sending data. */
export interface AttemptResult extends AttemptOutcome {
  /** For a response that ended before any data: the upstream's headers and trailers, to pass on unchanged. */
  uncommittedResponse?: OutgoingHttpHeaders;
}

function abortError(): Error {
  const error = new Error("attempt cancelled");
  error.name = "AbortError"; // makes Node send RST_STREAM(CANCEL) alone, without END_STREAM first
  return error;
}

function describeTransportError(error: (Error & { code?: string }) | undefined, rstCode: number | undefined): string {
  if (error?.code === "ECONNREFUSED") return "connection refused";
  if (error?.code === "ECONNRESET") return "connection reset";
  if (rstCode === constants.NGHTTP2_REFUSED_STREAM) return "stream refused before processing";
  if (error) return error.message;
  return `stream reset (HTTP/2 error ${rstCode ?? "unknown"})`;
}

function statusOf(headers: IncomingHttpHeaders) {
  const code = Number(headerValue(headers, "grpc-status"));
  return {
    code: Number.isInteger(code) ? code : Status.UNKNOWN,
    message: decodeGrpcMessage(headerValue(headers, "grpc-message") ?? ""),
  };
}

/** Sends the call to one upstream endpoint and relays the response, until it ends, fails or is aborted. */
export function runAttempt(request: AttemptRequest): Promise<AttemptResult> {
  const { call, signal, target } = request;
  return new Promise((resolve) => {
    let upstream: ClientHttp2Stream;
    try {
      upstream = request.session.request(request.headers, { endStream: false });
    } catch (error) {
      // The connection is closing (GOAWAY) or gone: the stream was never sent.
      const message = `upstream ${target}: ${(error as Error).message}`;
      resolve({
        code: Status.UNAVAILABLE,
        message,
        committed: false,
        neverProcessed: true,
        transportFailure: true,
        cancelled: false,
      });
      return;
    }
    let responseHeaders: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    let lastError: (Error & { code?: string }) | undefined;
    let settled = false;

    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      call.detach(upstream);
      resolve(result);
    };
    const onAbort = () => {
      upstream.destroy(abortError());
      settle({
        code: Status.CANCELLED,
        message: "attempt cancelled",
        committed: call.committed,
        neverProcessed: false,
        transportFailure: false,
        cancelled: true,
      });
    };
    signal.addEventListener("abort", onAbort, { once: true });
    call.attach(upstream);

    upstream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) trailers = headers;
      else responseHeaders = headers;
    });
    const held: Buffer[] = [];
    let heldBytes = 0;
    const commit = () => {
      call.commit(request.commitHeaders(endToEndHeaders(responseHeaders ?? {})));
      for (const chunk of held.splice(0)) call.write(chunk);
    };
    upstream.on("data", (chunk: Buffer) => {
      if (settled) return;
      if (!call.committed) {
        heldBytes += chunk.length;
        if (heldBytes <= (request.holdResponseBytes ?? 0)) {
          held.push(chunk);
          return;
        }
        commit();
      }
      if (!call.write(chunk)) {
        upstream.pause();
        call.stream.once("drain", () => upstream.resume());
      }
    });
    upstream.on("trailers", (headers) => {
      trailers = headers;
    });
    upstream.on("error", (error) => {
      lastError = error;
    });
    upstream.on("close", () => {
      if (settled) return;
      if (trailers) {
        const { code, message } = statusOf(trailers);
        // A held response that ended well goes to the caller now; one that failed is answered (or retried) as if
        // no message had come: gRPC clients drop a unary call's message when its status is an error.
        if (!call.committed && held.length > 0 && code === Status.OK) commit();
        if (call.committed) {
          call.finish(endToEndHeaders(trailers));
          settle({ code, message, committed: true, neverProcessed: false, transportFailure: false, cancelled: false });
        } else {
          const uncommittedResponse = { ...endToEndHeaders(responseHeaders ?? {}), ...endToEndHeaders(trailers) };
          settle({
            code,
            message,
            committed: false,
            neverProcessed: false,
            transportFailure: false,
            cancelled: false,
            uncommittedResponse,
          });
        }
        return;
      }
      const rstCode = upstream.rstCode;
      const neverProcessed =
        upstream.id === undefined ||
        rstCode === constants.NGHTTP2_REFUSED_STREAM ||
        lastError?.code === "ERR_HTTP2_GOAWAY_SESSION";
      const message = `upstream ${target}: ${describeTransportError(lastError, rstCode)}`;
      if (call.committed) call.fail(Status.UNAVAILABLE, message);
      settle({
        code: Status.UNAVAILABLE,
        message,
        committed: call.committed,
        neverProcessed,
        transportFailure: true,
        cancelled: false,
      });
    });
  });
}
