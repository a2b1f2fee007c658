import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { decodeGrpcMessage, Status } from "../grpc/status.ts";
import { ErrorCode, errorCodeName } from "../h2/frame/index.ts";
import { HeaderList } from "../h2/hpack/index.ts";
import type { Connection, H2Stream, StreamHandler } from "../h2/proto/index.ts";
import type { DownstreamCall, RequestSink, ResponseSource } from "./downstream-call.ts";
import { appendEndToEnd, headerValue, responseHeaders, SHED_HEADER } from "./headers.ts";

export interface AttemptRequest {
  call: DownstreamCall;
  connection: Connection;
  /** The request headers for this attempt, pseudo-headers and grpc-timeout included (encoded at once). */
  headers: HeaderList;
  /** Names the upstream in messages, for example `inventory (127.0.0.1:15000)`. */
  target: string;
  /** Added to the response headers when they go to the caller (retries made), or 1. */
  attempts: number;
  /**
   * Response bytes to hold back until the upstream's trailers arrive (0: relay at once). A unary response held
   * whole reaches the caller only once it is complete, so an upstream that dies mid-response can still be retried.
   */
  holdResponseBytes: number;
  /** A hedge: it gets the whole (already received) request at once and is not the call's current attempt. */
  hedge: boolean;
}

/**
 * An upstream's answer that carried no message: its end-to-end response headers (undefined when it answered
 * trailers-only) and trailers, to pass on framed as the upstream framed them.
 */
export interface UpstreamAnswer {
  headers: HeaderList | undefined;
  trailers: HeaderList;
}

/** An attempt's outcome, with the upstream's own answer when it ended before any data reached the caller. */
export interface AttemptResult extends AttemptOutcome {
  /** The upstream's end-to-end headers and trailers, to pass on unchanged (see DownstreamCall.relayAnswer). */
  uncommittedResponse?: UpstreamAnswer;
}

function describeClose(stream: H2Stream): string {
  const code = (stream.closeError as (Error & { code?: string }) | undefined)?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (stream.closedBy === "goaway") return "connection going away before the stream was processed (GOAWAY)";
  if (stream.closedBy === "peer-reset") {
    if (stream.closeCode === ErrorCode.REFUSED_STREAM) return "stream refused before processing";
    return `stream reset (HTTP/2 error ${errorCodeName(stream.closeCode)})`;
  }
  return stream.closeError?.message ?? "stream closed without a status";
}

function statusOf(trailers: HeaderList): { code: number; message: string } {
  const code = Number(headerValue(trailers, "grpc-status"));
  return {
    code: Number.isInteger(code) ? code : Status.UNKNOWN,
    message: decodeGrpcMessage(headerValue(trailers, "grpc-message") ?? ""),
  };
}

/** Told once how an attempt ended. */
export interface AttemptListener {
  attemptDone(result: AttemptResult): void;
  /** The attempt's response is going to the caller (the first of several hedged attempts to answer). */
  attemptCommitted?(): void;
}

/** What the one who started an attempt may do with it. */
export interface AttemptHandle {
  /** Cancels it upstream (RST_STREAM CANCEL); its listener then hears it ended cancelled. */
  abandon(): void;
}

/**
 * One attempt at an upstream endpoint: the upstream stream's handler, the call's request sink and its response
 * source. A plain state machine driven by stream events, settled once to its listener.
 */
class Attempt implements StreamHandler, RequestSink, ResponseSource {
  private stream: H2Stream | undefined;
  private responseHeaders: HeaderList | undefined;
  private trailers: HeaderList | undefined;
  /** The trailers carried SHED_HEADER (read before the mesh-internal fields are dropped from the copy). */
  private shedMarked = false;
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private settled = false;
  private abandoned = false;

  constructor(
    private readonly request: AttemptRequest,
    private readonly listener: AttemptListener,
  ) {}

  start(): void {
    const { call } = this.request;
    try {
      this.stream = this.request.connection.request(this.request.headers, this);
    } catch (error) {
      // The connection is closing (GOAWAY) or gone: the stream was never sent.
      this.settle(this.transportFailure(`upstream ${this.request.target}: ${(error as Error).message}`, true));
      return;
    }
    if (this.request.hedge) call.replayTo(this);
    else call.attach(this, this);
    if (call.abandoned) this.abandon();
  }

  /** Another attempt's response went to the caller: this one must not write. */
  private lostTheRace(): boolean {
    const { call } = this.request;
    if (!call.committed || call.owner === this) return false;
    this.abandon();
    return true;
  }

  // RequestSink: the caller's request bytes.
  write(chunk: Buffer): boolean {
    return this.stream?.write(chunk) ?? true;
  }

  end(): void {
    this.stream?.end();
  }

  abandon(): void {
    if (this.settled || this.abandoned) return;
    this.abandoned = true;
    this.stream?.reset(ErrorCode.CANCEL);
  }

  // ResponseSource: paused while the caller's window is full.
  pause(): void {
    this.stream?.pause();
  }

  resume(): void {
    this.stream?.resume();
  }

  // StreamHandler: the upstream's response.
  onHeaders(_stream: H2Stream, headers: HeaderList, endStream: boolean): void {
    // The copy drops mesh-internal fields: whatever the upstream (an app, or a sidecar relaying its app) sent, only
    // this sidecar's own answers carry them to the caller.
    const copy = appendEndToEnd(new HeaderList(), headers);
    if (endStream) {
      this.trailers = copy;
      this.shedMarked = headerValue(headers, SHED_HEADER) !== undefined;
    } else {
      this.responseHeaders = copy;
    }
  }

  onData(_stream: H2Stream, chunk: Buffer): void {
    if (this.settled || this.lostTheRace()) return;
    const { call } = this.request;
    if (!call.committed) {
      this.heldBytes += chunk.length;
      if (this.heldBytes <= this.request.holdResponseBytes) {
        if (this.held) this.held.push(chunk);
        else this.held = [chunk];
        return;
      }
      this.commit();
    }
    if (!call.write(chunk)) this.stream?.pause();
  }

  onDrain(): void {
    this.request.call.sinkDrained();
  }

  onClose(stream: H2Stream): void {
    if (this.settled) return;
    const { call } = this.request;
    if (this.abandoned) {
      this.settle(this.cancelled());
      return;
    }
    const trailers = this.trailers;
    if (stream.closedBy === "done" && trailers) {
      this.settleWithTrailers(trailers);
      return;
    }
    const message = `upstream ${this.request.target}: ${describeClose(stream)}`;
    if (call.owner === this) call.fail(Status.UNAVAILABLE, message);
    this.settle(this.transportFailure(message, stream.neverProcessed));
  }

  private settleWithTrailers(trailers: HeaderList): void {
    const { call } = this.request;
    if (call.committed && call.owner !== this) {
      this.settle(this.cancelled());
      return;
    }
    const { code, message } = statusOf(trailers);
    // A held response that ended well goes to the caller now; one that failed is answered (or retried) as if no
    // message had come: gRPC clients drop a unary call's message when its status is an error.
    if (!call.committed && this.held && code === Status.OK) this.commit();
    if (call.committed) {
      call.finish(trailers);
      this.settle({ code, message, committed: true, neverProcessed: false, transportFailure: false, cancelled: false });
      return;
    }
    // Headers and trailers stay apart: merged into one trailers-only block, a field the upstream sent in both (an
    // app that copies a failed backend call's metadata, grpc-encoding included, into its trailers) would be repeated,
    // and the caller would read the trailers' value as a response header.
    const headers = this.responseHeaders;
    this.settle({
      code,
      message,
      committed: false,
      neverProcessed: false,
      // A sidecar sheds with a trailers-only RESOURCE_EXHAUSTED answer; its app's answers never carry the marker.
      shed: this.shedMarked && headers === undefined && code === Status.RESOURCE_EXHAUSTED,
      transportFailure: false,
      cancelled: false,
      uncommittedResponse: { headers, trailers },
    });
  }

  private commit(): void {
    const { call, attempts } = this.request;
    const headers = responseHeaders(200);
    if (this.responseHeaders) appendEndToEnd(headers, this.responseHeaders);
    if (attempts > 1) headers.push("x-mesh-attempts", String(attempts));
    call.commit(headers, this);
    this.listener.attemptCommitted?.();
    const held = this.held;
    this.held = undefined;
    if (held) for (const chunk of held) call.write(chunk);
  }

  private cancelled(): AttemptResult {
    return {
      code: Status.CANCELLED,
      message: "attempt cancelled",
      committed: this.request.call.owner === this,
      neverProcessed: false,
      transportFailure: false,
      cancelled: true,
    };
  }

  private transportFailure(message: string, neverProcessed: boolean): AttemptResult {
    return {
      code: Status.UNAVAILABLE,
      message,
      committed: this.request.call.owner === this,
      neverProcessed,
      transportFailure: true,
      cancelled: false,
    };
  }

  private settle(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.request.call.detach(this);
    this.listener.attemptDone(result);
  }
}

/** Sends the call to one upstream endpoint and relays the response; `listener` hears how it ended. */
export function startAttempt(request: AttemptRequest, listener: AttemptListener): AttemptHandle {
  const attempt = new Attempt(request, listener);
  attempt.start();
  return attempt;
}
