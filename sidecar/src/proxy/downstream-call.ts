import { GrpcFrameMeter } from "../grpc/message-framing.ts";
import { ErrorCode } from "../h2/frame/index.ts";
import { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream, StreamHandler } from "../h2/proto/index.ts";
import type { UpstreamAnswer } from "./attempt.ts";
import { appendEndToEnd, appendStatus, headerValue, responseHeaders, statusResponse } from "./headers.ts";

/** Where request bytes go: the current attempt, which writes them to its upstream stream. */
export interface RequestSink {
  /** False when the upstream's window is full: the sink calls `call.sinkDrained()` once it takes more. */
  write(chunk: Buffer): boolean;
  end(): void;
  /** Nothing upstream is needed any more (the caller cancelled, the deadline passed, the proxy answered). */
  abandon(): void;
}

/** Where response bytes come from: paused while the caller's window is full. */
export interface ResponseSource {
  pause(): void;
  resume(): void;
}

export interface DownstreamLimits {
  maxMessageBytes: number;
  /** Request bytes kept for replaying on a retry; past this the call cannot be retried. */
  retryBufferBytes: number;
}

/**
 * The caller's side of one proxied call, as the handler of its HTTP/2 stream: reads the request once (checking its
 * gRPC framing and keeping it for retries while it fits the buffer), feeds it to whichever attempt is current, and
 * writes the response.
 */
export class DownstreamCall implements StreamHandler {
  /**
   * Nothing upstream is needed any more: the caller cancelled, the proxy answered the caller itself, or the deadline
   * passed. The signal for the pipeline's waits (backoff, bulkhead queue) is made only when one asks for it.
   */
  abandoned = false;
  private controller: AbortController | undefined;
  /** Told when the call is abandoned while it waits with no attempt attached (in a queue). */
  private waiter: { callAbandoned(): void } | undefined;
  /** The caller reset or abandoned the call. */
  callerCancelled = false;
  private readonly buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private overflowed = false;
  private requestEnded = false;
  private sink: RequestSink | undefined;
  private source: ResponseSource | undefined;
  private readonly meter: GrpcFrameMeter;
  /** Response headers went to the caller. */
  committed = false;
  /** The attempt whose response went to the caller (of several hedged ones, the first to answer). */
  owner: ResponseSource | undefined;
  /** The caller has its final status. */
  finished = false;

  constructor(
    readonly stream: H2Stream,
    private readonly limits: DownstreamLimits,
    requestEnded: boolean,
  ) {
    this.meter = new GrpcFrameMeter(limits.maxMessageBytes, "request");
    stream.handler = this;
    if (requestEnded) this.onRequestEnd();
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abandoned) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** Stops whatever still works upstream for this call. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.controller?.abort();
    this.sink?.abandon();
    this.waiter?.callAbandoned();
  }

  /** Watches for the call being abandoned while it waits (undefined stops watching). */
  watch(waiter: { callAbandoned(): void } | undefined): void {
    this.waiter = waiter;
  }

  /** Whether a new attempt can be given the whole request from the start. */
  get canReplay(): boolean {
    return !this.overflowed;
  }

  /** The whole request has arrived and is kept: another attempt can be given all of it at once (a hedge). */
  get fullyBuffered(): boolean {
    return this.requestEnded && !this.overflowed;
  }

  /**
   * Makes an attempt current: gives it everything read so far, then the rest as it comes. What the call read while it
   * waited may be more than the retry buffer keeps: it is all sent, then let go (the call can no longer be retried),
   * and the caller's window, withheld while it waited past the buffer, opens again once the attempt takes it.
   */
  attach(sink: RequestSink, source: ResponseSource): void {
    this.sink = sink;
    this.source = source;
    let took = true;
    for (const chunk of this.buffered) if (!sink.write(chunk)) took = false;
    if (this.requestEnded) sink.end();
    if (this.bufferedBytes > this.limits.retryBufferBytes) this.letGoOfBuffer();
    if (took) this.stream.resume();
    else this.stream.pause();
  }

  /** Gives an attempt the request read so far (all of it, for a hedge: see fullyBuffered). */
  replayTo(sink: RequestSink): void {
    for (const chunk of this.buffered) sink.write(chunk);
    if (this.requestEnded) sink.end();
  }

  detach(sink: RequestSink & ResponseSource): void {
    if (this.source === sink) this.source = undefined;
    if (this.sink !== sink) return;
    this.sink = undefined;
    this.stream.resume();
  }

  /** The current attempt's upstream took what was written: read more of the request. */
  sinkDrained(): void {
    this.stream.resume();
  }

  onHeaders(_stream: H2Stream, _trailers: HeaderList, endStream: boolean): void {
    // Request trailers have no meaning in gRPC; only the end of the request matters.
    if (endStream) this.onRequestEnd();
  }

  onData(_stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) this.onRequestData(chunk);
    if (endStream) this.onRequestEnd();
  }

  onDrain(): void {
    this.source?.resume();
  }

  onClose(): void {
    if (this.finished) return;
    this.callerCancelled = true;
    this.abandon();
  }

  private onRequestData(chunk: Buffer) {
    if (this.finished) return;
    const violation = this.meter.push(chunk);
    if (violation) {
      this.fail(violation.code, violation.message);
      return;
    }
    const sink = this.sink;
    // Past the retry buffer with an attempt current, the request is only passed on: the call cannot be retried.
    if (this.overflowed) {
      if (sink && !sink.write(chunk)) this.stream.pause();
      return;
    }
    // The chunk is a view of the socket's read buffer, which Node does not reuse: keeping it is safe.
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (!sink) {
      // No attempt yet (queued, in a fault delay or a backoff): every byte is kept for the one to come, and past the
      // retry buffer the caller's window is no longer given back, so it stops sending until an attempt takes them.
      if (this.bufferedBytes > this.limits.retryBufferBytes) this.stream.pause();
      return;
    }
    if (this.bufferedBytes > this.limits.retryBufferBytes) this.letGoOfBuffer();
    if (!sink.write(chunk)) this.stream.pause();
  }

  /** The request outgrew the retry buffer and its current attempt has all of it: no other attempt can follow. */
  private letGoOfBuffer(): void {
    this.overflowed = true;
    this.buffered.length = 0;
  }

  private onRequestEnd() {
    if (this.finished || this.requestEnded) return;
    const violation = this.meter.endViolation();
    if (violation) {
      this.fail(violation.code, violation.message);
      return;
    }
    this.requestEnded = true;
    this.sink?.end();
  }

  /** Sends the response headers of `owner`'s response: from now on the call cannot be retried. */
  commit(headers: HeaderList, owner: ResponseSource): void {
    if (this.committed || this.stream.closed) return;
    this.committed = true;
    this.owner = owner;
    this.source = owner;
    this.stream.respond(headers);
  }

  /** Writes response bytes; false when the caller's window is full (the source is paused until it drains). */
  write(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }

  /** Ends a committed response with the upstream's trailers. */
  finish(trailers: HeaderList): void {
    if (this.finished) return;
    this.finished = true;
    this.stream.end(trailers);
  }

  /**
   * Ends the call with a status of the proxy's own: trailers-only (HTTP 200, grpc-status, grpc-message) when
   * nothing was sent yet, else as trailers after what was sent.
   */
  fail(code: number, message: string, attempts = 1): void {
    if (this.finished) return;
    if (this.committed) {
      this.finish(appendStatus(new HeaderList(), code, message));
      return;
    }
    const answer = statusResponse(200, code, message);
    if (attempts > 1) answer.push("x-mesh-attempts", String(attempts));
    this.respondTrailersOnly(answer);
  }

  /**
   * Resets the call with REFUSED_STREAM: HTTP/2's way to say the request was not processed, so the caller (or its
   * sidecar) may safely send it elsewhere, whatever the method.
   */
  refuse(): void {
    if (this.finished || this.committed) return;
    this.finished = true;
    this.sink = undefined;
    this.stream.reset(ErrorCode.REFUSED_STREAM);
  }

  /**
   * Passes on an upstream's answer that carried no message, framed as the upstream framed it: a trailers-only
   * response as one, response headers and trailers as two header blocks. Merging the two into one block would repeat
   * any field found in both, and the caller would take the trailers' values for response headers (a
   * `grpc-encoding: gzip, identity` it cannot decode).
   */
  relayAnswer(answer: UpstreamAnswer, attempts: number): void {
    if (!answer.headers) {
      this.respondTrailersOnly(relayedHeaders(answer.trailers, attempts));
      return;
    }
    if (this.finished || this.committed) return;
    this.finished = true;
    this.committed = true;
    this.abandon();
    this.sink = undefined;
    this.stream.respond(relayedHeaders(answer.headers, attempts));
    this.stream.end(answer.trailers);
  }

  /** Answers with one HEADERS frame that ends the call (a gRPC trailers-only response, `:status` first). */
  respondTrailersOnly(headers: HeaderList): void {
    if (this.finished || this.committed) return;
    this.finished = true;
    // An attempt still waiting on the upstream (a truncated or oversized request) must not hold its stream open.
    this.abandon();
    this.sink = undefined;
    if (headerValue(headers, "content-type") === undefined) headers.push("content-type", "application/grpc");
    this.stream.respond(headers, true);
  }
}

/** The response headers that pass an upstream's own on: `:status` 200, its end-to-end fields, the attempts made. */
function relayedHeaders(upstream: HeaderList, attempts: number): HeaderList {
  const headers = appendEndToEnd(responseHeaders(200), upstream);
  if (attempts > 1) headers.push("x-mesh-attempts", String(attempts));
  return headers;
}
