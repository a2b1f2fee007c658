import type { HeaderList } from "../hpack/index.ts";
import { ReceiveWindow, SendWindow } from "./flow-control.ts";

/** Why a stream ended; `done` when both sides ended it with END_STREAM (or we answered in full, on the server). */
export type ClosedBy = "done" | "peer-reset" | "local-reset" | "goaway" | "connection";

/**
 * What a stream reports. One object per call implements it (the proxy's downstream call or upstream attempt), so no
 * closure is made per event; the stream is passed back so one handler can tell its streams apart.
 */
export interface StreamHandler {
  /**
   * A header block: response headers or trailers on a client stream, trailers on a server stream. `headers` is reused
   * for the next block: read it before returning.
   */
  onHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void;
  /** A DATA payload (a view of the socket's bytes: keep it only as long as it is needed). */
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void;
  /** Everything written so far left under the peer's windows, after write() returned false. */
  onDrain(stream: H2Stream): void;
  /** The stream ended; see closedBy, closeCode, neverProcessed and closeError. */
  onClose(stream: H2Stream): void;
}

/** The connection side of a stream: where its frames go. */
export interface StreamOwner {
  sendHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void;
  /** Sends as much of the stream's queued data as the windows allow; true when the queue is empty. */
  flushStream(stream: H2Stream): boolean;
  sendReset(stream: H2Stream, code: number): void;
  releaseReceived(stream: H2Stream, length: number): void;
  forget(stream: H2Stream): void;
}

const IGNORE: StreamHandler = {
  onHeaders() {},
  onData() {},
  onDrain() {},
  onClose() {},
};

/**
 * One HTTP/2 stream (RFC 9113 5.1) as both sides see it: whether each side ended it, its two flow-control windows,
 * and data waiting for window. State lives in fields, not in a transition table: a proxied stream only ever goes
 * open -> half closed -> closed, or is reset.
 */
export class H2Stream {
  handler: StreamHandler = IGNORE;
  /** Assigned when the stream's HEADERS are sent (client) or received (server). */
  id = 0;
  /** We sent END_STREAM. */
  localEnded = false;
  /** The peer sent END_STREAM. */
  remoteEnded = false;
  closed = false;
  headersSent = false;
  /** Header blocks received on this stream (the request or response headers count as the first). */
  headerBlocksReceived = 0;
  /** The request's header list size (RFC 9113 6.5.2) as received, for limits above the protocol's own. */
  headerListSize = 0;

  closedBy: ClosedBy = "done";
  /** The RST_STREAM or GOAWAY error code when the stream did not end cleanly. */
  closeCode = 0;
  /** The peer cannot have processed the stream (refused, above a GOAWAY's last stream id, connection never up). */
  neverProcessed = false;
  closeError: Error | undefined;

  readonly sendWindow: SendWindow;
  readonly receiveWindow: ReceiveWindow;
  /** Data written but not yet sent for want of window, in order. */
  readonly queued: Buffer[] = [];
  queuedBytes = 0;
  /** What ends the stream once the queue is sent: trailers, or END_STREAM on an empty DATA frame (true). */
  pendingEnd: HeaderList | true | undefined;
  /** A write returned false: the handler hears onDrain when the queue empties. */
  wantsDrain = false;
  /** While paused, received data is not given back to the peer's window, so the peer stops once it fills. */
  private paused = false;
  private unreleased = 0;

  constructor(
    private readonly owner: StreamOwner,
    sendWindowSize: number,
    receiveWindowSize: number,
  ) {
    this.sendWindow = new SendWindow(sendWindowSize);
    this.receiveWindow = new ReceiveWindow(receiveWindowSize);
  }

  /** Sends the first header block (request or response headers); `endStream` for a trailers-only response. */
  respond(headers: HeaderList, endStream = false): void {
    if (this.closed || this.headersSent) return;
    this.headersSent = true;
    if (endStream) this.localEnded = true;
    this.owner.sendHeaders(this, headers, endStream);
  }

  /** Writes data; false when some of it waits for the peer's window (onDrain follows). */
  write(data: Buffer): boolean {
    if (this.closed || this.localEnded || this.pendingEnd) return true;
    if (data.length > 0) {
      this.queued.push(data);
      this.queuedBytes += data.length;
    }
    if (this.owner.flushStream(this)) return true;
    this.wantsDrain = true;
    return false;
  }

  /** Ends our side: with trailers, or with an empty END_STREAM DATA frame, once queued data is sent. */
  end(trailers?: HeaderList): void {
    if (this.closed || this.localEnded || this.pendingEnd) return;
    this.pendingEnd = trailers ?? true;
    this.owner.flushStream(this);
  }

  /** Resets the stream (RST_STREAM) and reports it closed; nothing is sent if it never opened. */
  reset(code: number): void {
    if (this.closed) return;
    this.owner.sendReset(this, code);
    this.close("local-reset", code);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const length = this.unreleased;
    this.unreleased = 0;
    if (length > 0) this.owner.releaseReceived(this, length);
  }

  /** The connection's bookkeeping after a DATA payload was handed to the handler. */
  consumed(length: number): void {
    if (this.paused) this.unreleased += length;
    else this.owner.releaseReceived(this, length);
  }

  /** Marks the stream closed once and tells the handler; the connection forgets it. */
  close(by: ClosedBy, code: number, error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBy = by;
    this.closeCode = code;
    this.closeError = error;
    this.queued.length = 0;
    this.queuedBytes = 0;
    this.pendingEnd = undefined;
    this.owner.forget(this);
    this.handler.onClose(this);
  }
}
