import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { GrpcFrameMeter } from "../grpc/message-framing.ts";
import { encodeGrpcMessage } from "../grpc/status.ts";

/** Where request bytes go: the current attempt's upstream stream. */
export interface RequestSink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: "drain", listener: () => void): unknown;
}

export interface DownstreamLimits {
  maxMessageBytes: number;
  /** Request bytes kept for replaying on a retry; past this the call cannot be retried. */
  retryBufferBytes: number;
}

/**
 * The caller's side of one proxied call: reads the request once (checking its gRPC framing and keeping it for
 * retries while it fits the buffer), feeds it to whichever attempt is current, and writes the response.
 */
export class DownstreamCall {
  /**
   * Aborted once nothing upstream is needed any more: the caller cancelled, the proxy answered the caller itself,
   * or the deadline passed. One signal per call: the current attempt resets its upstream stream on it.
   */
  private readonly over = new AbortController();
  /** The caller reset or abandoned the call. */
  callerCancelled = false;
  private readonly buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private overflowed = false;
  private requestEnded = false;
  private sink: RequestSink | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  private readonly meter: GrpcFrameMeter;
  /** Response headers went to the caller. */
  committed = false;
  /** The caller has its final status. */
  finished = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    private readonly limits: DownstreamLimits,
  ) {
    this.meter = new GrpcFrameMeter(limits.maxMessageBytes, "request");
    stream.on("data", (chunk: Buffer) => this.onRequestData(chunk));
    // A cancelled client stream can emit 'end' just before 'aborted'; decide one tick later whether it ended.
    stream.on("end", () => setImmediate(() => this.onRequestEnd()));
    stream.on("close", () => {
      if (this.finished) return;
      this.callerCancelled = true;
      this.over.abort();
    });
    stream.on("error", () => {});
    stream.on("wantTrailers", () => stream.sendTrailers(this.trailers ?? {}));
  }

  get signal(): AbortSignal {
    return this.over.signal;
  }

  /** Stops whatever still works upstream for this call (its deadline passed). */
  abandon(): void {
    this.over.abort();
  }

  /** Whether a new attempt can be given the whole request from the start. */
  get canReplay(): boolean {
    return !this.overflowed;
  }

  /** Makes a sink the current attempt: replays what was read so far, then passes on the rest as it comes. */
  attach(sink: RequestSink): void {
    this.sink = sink;
    for (const chunk of this.buffered) sink.write(chunk);
    if (this.requestEnded) sink.end();
  }

  detach(sink: RequestSink): void {
    if (this.sink === sink) this.sink = undefined;
    this.stream.resume();
  }

  private onRequestData(chunk: Buffer) {
    const violation = this.meter.push(chunk);
    if (violation) {
      this.fail(violation.code, violation.message);
      return;
    }
    if (!this.overflowed) {
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes > this.limits.retryBufferBytes) {
        this.overflowed = true;
        this.buffered.length = 0;
      } else {
        this.buffered.push(chunk);
      }
    }
    if (this.sink && !this.sink.write(chunk)) {
      this.stream.pause();
      this.sink.once("drain", () => this.stream.resume());
    }
  }

  private onRequestEnd() {
    if (this.stream.aborted || this.callerCancelled || this.finished) return;
    const violation = this.meter.endViolation();
    if (violation) {
      this.fail(violation.code, violation.message);
      return;
    }
    this.requestEnded = true;
    this.sink?.end();
  }

  /** Sends the response headers: from now on the call cannot be retried. */
  commit(headers: OutgoingHttpHeaders): void {
    if (this.committed || this.stream.destroyed) return;
    this.committed = true;
    this.stream.respond({ ":status": 200, ...headers }, { waitForTrailers: true });
  }

  /** Writes response bytes; false when the caller's window is full (wait for "drain"). */
  write(chunk: Buffer): boolean {
    return this.stream.destroyed ? true : this.stream.write(chunk);
  }

  /** Ends a committed response with the upstream's trailers. */
  finish(trailers: OutgoingHttpHeaders): void {
    if (this.finished) return;
    this.finished = true;
    this.trailers = trailers;
    if (!this.stream.destroyed) this.stream.end();
  }

  /**
   * Ends the call with a status of the proxy's own: trailers-only (HTTP 200, grpc-status, grpc-message) when
   * nothing was sent yet, else as trailers after what was sent.
   */
  fail(code: number, message: string, extraHeaders: OutgoingHttpHeaders = {}): void {
    if (this.finished) return;
    const status = { "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) };
    if (this.committed) {
      this.finish(status);
      return;
    }
    this.respondTrailersOnly({ "content-type": "application/grpc", ...extraHeaders, ...status });
  }

  /**
   * Resets the call with REFUSED_STREAM: HTTP/2's way to say the request was not processed, so the caller (or its
   * sidecar) may safely send it elsewhere, whatever the method.
   */
  refuse(): void {
    if (this.finished || this.committed) return;
    this.finished = true;
    this.sink = undefined;
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_REFUSED_STREAM);
  }

  /** Answers with one HEADERS frame that ends the call (a gRPC trailers-only response). */
  respondTrailersOnly(headers: OutgoingHttpHeaders): void {
    if (this.finished || this.committed) return;
    this.finished = true;
    this.sink = undefined;
    // An attempt still waiting on the upstream (a truncated or oversized request) must not hold its stream open.
    this.over.abort();
    if (this.stream.destroyed) return;
    this.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    // The caller may still be sending; take and drop the rest so flow control cannot stall the connection.
    this.stream.resume();
  }
}
