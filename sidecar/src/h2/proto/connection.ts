import type { Socket } from "node:net";
import { frameHead } from "../frame/head.ts";
import {
  CONNECTION_PREFACE,
  checkPreface,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  errorCodeName,
  FrameDecoder,
  type FrameError,
  type FrameHandler,
  FrameType,
  MAX_STREAM_ID,
  MAX_WINDOW_SIZE,
  type Settings,
} from "../frame/index.ts";
import { Flag } from "../frame/types.ts";
import { Decoder, Encoder, HeaderList, HpackError } from "../hpack/index.ts";
import { DEFAULT_INITIAL_WINDOW_SIZE, ReceiveWindow, SendWindow } from "./flow-control.ts";
import { type BlockKind, malformedReason } from "./header-rules.ts";
import { H2Stream, type StreamHandler, type StreamOwner } from "./stream.ts";

export interface ConnectionOptions {
  /** Streams the peer may have open at once (our SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams?: number;
  /** Our per-stream receive window: how much a peer may send on one stream before we have relayed it. */
  initialWindowSize?: number;
  /** Our connection receive window. */
  connectionWindowSize?: number;
  /** Header lists past this are decoded (HPACK must stay in sync) but not kept; see H2Stream.headerListSize. */
  maxHeaderListSize?: number;
  /** PING and SETTINGS frames a peer may send per second; a flood past it is ENHANCE_YOUR_CALM. */
  maxControlFramesPerSecond?: number;
  /** Server: a stream the peer opened. Set `stream.handler` before returning; `headers` is reused afterwards. */
  onStream?: (stream: H2Stream, headers: HeaderList, endStream: boolean) => void;
  /** The socket closed: every stream has been told. */
  onClose?: (connection: Connection) => void;
  /**
   * Streams the peer may reset before their response completed (the HTTP/2 rapid-reset attack, CVE-2023-44487):
   * a budget of this many that refills at `earlyResetsPerSecond` and by half a reset for each stream opened (so a
   * client that cancels up to half its calls never runs out); past it the connection ends with ENHANCE_YOUR_CALM.
   */
  maxEarlyResets?: number;
  earlyResetsPerSecond?: number;
  /**
   * A stream handler (or onStream) threw: the stream has been reset with INTERNAL_ERROR, the connection goes on.
   * Defaults to a line on stderr; the listeners pass their logger.
   */
  onHandlerError?: (error: unknown, streamId: number) => void;
}

const EMPTY = Buffer.alloc(0);
const CONTROL_WINDOW_MS = 1000;
const DEFAULT_MAX_EARLY_RESETS = 100;
const DEFAULT_EARLY_RESETS_PER_SECOND = 100;
/** Each stream the peer opens adds this much to its early-reset budget. */
const EARLY_RESET_CREDIT_PER_STREAM = 0.5;

function logHandlerError(error: unknown, streamId: number): void {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`HTTP/2 stream ${streamId}: its handler failed, the stream was reset: ${reason}`);
}
/**
 * A batch up to this size is copied into one buffer and written once: copying a few KiB costs less than a write
 * request per frame head and header block. Larger batches (big DATA payloads) go out as slices in one writev.
 */
const COALESCE_BYTES = 16 * 1024;
/** A peer that never closes after our GOAWAY is cut off after this long. */
const LINGER_MS = 1000;

type Role = "client" | "server";

/**
 * One HTTP/2 connection over a socket (TCP or TLS), either side (RFC 9113): the connection preface and SETTINGS
 * exchange, the stream table, HPACK in both directions, flow control on both sides, PING, GOAWAY, and errors scoped as
 * the RFC says (a stream error resets one stream; a connection error sends GOAWAY and closes). Frames go out in
 * batches: everything queued while handling one socket read leaves in one writev.
 */
export class Connection implements FrameHandler, StreamOwner {
  private readonly decoder: FrameDecoder;
  private readonly hpackDecoder: Decoder;
  private readonly hpackEncoder = new Encoder();
  private readonly received = new HeaderList();
  private readonly streams = new Map<number, H2Stream>();
  /** Streams with data waiting for window, in the order they blocked. */
  private readonly blocked = new Set<H2Stream>();
  /** Streams we reset lately, whose late frames are expected and ignored (RFC 9113 5.1, closed state). */
  private readonly resetByUs = new Set<number>();

  private readonly sendWindow = new SendWindow(DEFAULT_INITIAL_WINDOW_SIZE);
  private readonly receiveWindow: ReceiveWindow;
  private readonly initialWindowSize: number;
  private readonly maxConcurrentStreams: number;
  private readonly maxControlFrames: number;
  private peerInitialWindowSize = DEFAULT_INITIAL_WINDOW_SIZE;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private peerMaxConcurrentStreams = Number.POSITIVE_INFINITY;

  private nextStreamId: number;
  /** The highest stream id the peer opened (server) or we opened (client). */
  private lastStreamId = 0;
  private prefaceReceived: boolean;
  private prefaceBytes: Buffer = EMPTY;
  /** The peer's SETTINGS arrived: it is a live HTTP/2 endpoint. */
  established = false;
  /** We sent GOAWAY or were asked to close: no new streams; the socket ends once the last stream does. */
  closing = false;
  /** The peer's GOAWAY: its last stream id, or -1. */
  private peerLastStreamId = -1;
  destroyed = false;
  private socketError: Error | undefined;

  private readonly out: Buffer[] = [];
  private flushScheduled = false;
  private controlFrames = 0;
  private controlWindowStart = 0;
  private readonly maxEarlyResets: number;
  private readonly earlyResetsPerMs: number;
  /** Early resets the peer may still send now; refills over time up to maxEarlyResets. */
  private earlyResetCredit: number;
  private earlyResetRefilledAt = 0;
  private readonly onHandlerError: (error: unknown, streamId: number) => void;

  private constructor(
    readonly socket: Socket,
    private readonly role: Role,
    private readonly options: ConnectionOptions,
  ) {
    this.initialWindowSize = options.initialWindowSize ?? 256 * 1024;
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? 1000;
    this.maxControlFrames = options.maxControlFramesPerSecond ?? 5000;
    this.maxEarlyResets = options.maxEarlyResets ?? DEFAULT_MAX_EARLY_RESETS;
    this.earlyResetsPerMs = (options.earlyResetsPerSecond ?? DEFAULT_EARLY_RESETS_PER_SECOND) / 1000;
    this.earlyResetCredit = this.maxEarlyResets;
    this.onHandlerError = options.onHandlerError ?? logHandlerError;
    const connectionWindow = Math.max(options.connectionWindowSize ?? 16 * 1024 * 1024, DEFAULT_INITIAL_WINDOW_SIZE);
    // Every connection window opens at 65,535; our first WINDOW_UPDATE below takes it to connectionWindow.
    this.receiveWindow = new ReceiveWindow(connectionWindow);
    this.hpackDecoder = new Decoder({ maxHeaderListSize: options.maxHeaderListSize ?? 64 * 1024 });
    this.decoder = new FrameDecoder(this);
    this.nextStreamId = role === "client" ? 1 : 2;
    this.prefaceReceived = role === "client";

    socket.setNoDelay?.(true);
    socket.on("data", this.onSocketData);
    socket.on("error", this.onSocketError);
    socket.on("close", this.onSocketClose);
    if (role === "client") this.out.push(CONNECTION_PREFACE);
    this.out.push(
      encodeSettings({
        enablePush: role === "client" ? 0 : undefined,
        maxConcurrentStreams: this.maxConcurrentStreams,
        initialWindowSize: this.initialWindowSize,
        maxHeaderListSize: options.maxHeaderListSize,
      }),
    );
    if (connectionWindow > DEFAULT_INITIAL_WINDOW_SIZE) {
      this.out.push(encodeWindowUpdate(0, connectionWindow - DEFAULT_INITIAL_WINDOW_SIZE));
    }
    this.scheduleFlush();
  }

  /** The server side of a connection whose socket has not delivered the client's preface yet. */
  static server(socket: Socket, options: ConnectionOptions): Connection {
    return new Connection(socket, "server", options);
  }

  /** The client side: sends the preface at once (a socket still connecting buffers it). */
  static client(socket: Socket, options: ConnectionOptions = {}): Connection {
    return new Connection(socket, "client", options);
  }

  /** Whether a new stream can be opened on this connection now (client). */
  get canOpenStream(): boolean {
    return (
      !this.destroyed &&
      !this.closing &&
      this.peerLastStreamId < 0 &&
      this.nextStreamId <= MAX_STREAM_ID &&
      this.streams.size < this.peerMaxConcurrentStreams
    );
  }

  /** Opens a stream with its request headers (client). Throws when the connection cannot take a new stream. */
  request(headers: HeaderList, handler: StreamHandler, endStream = false): H2Stream {
    if (!this.canOpenStream) throw new Error(this.unavailableReason());
    const stream = new H2Stream(this, this.peerInitialWindowSize, this.initialWindowSize);
    stream.handler = handler;
    stream.id = this.nextStreamId;
    this.nextStreamId += 2;
    this.lastStreamId = stream.id;
    this.streams.set(stream.id, stream);
    stream.respond(headers, endStream);
    return stream;
  }

  private unavailableReason(): string {
    if (this.destroyed) return "connection closed";
    if (this.peerLastStreamId >= 0) return "connection going away (GOAWAY received)";
    if (this.closing) return "connection closing";
    if (this.nextStreamId > MAX_STREAM_ID) return "connection out of stream ids";
    return `peer's limit of ${this.peerMaxConcurrentStreams} concurrent streams reached`;
  }

  /**
   * Graceful close: no new streams (a server sends GOAWAY with the last stream it took), open streams finish, then
   * the socket ends.
   */
  close(): void {
    if (this.closing || this.destroyed) return;
    this.closing = true;
    this.queue(encodeGoAway(this.role === "server" ? this.lastStreamId : 0, ErrorCode.NO_ERROR));
    this.endIfIdle();
  }

  /** Closes at once: every open stream is told, the socket is destroyed. */
  destroy(error?: Error): void {
    this.socketError ??= error;
    this.socket.destroy();
    this.teardown();
  }

  // ---- sending -------------------------------------------------------------------------------------------------

  private queue(frame: Buffer): void {
    this.out.push(frame);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const out = this.out;
    if (out.length === 0) return;
    if (this.socket.destroyed || this.socket.writableEnded) {
      out.length = 0;
      return;
    }
    let bytes = 0;
    for (let i = 0; i < out.length; i++) bytes += (out[i] as Buffer).length;
    if (out.length === 1 || bytes > COALESCE_BYTES) {
      this.socket.cork();
      for (let i = 0; i < out.length; i++) this.socket.write(out[i] as Buffer);
      this.socket.uncork();
    } else {
      this.socket.write(Buffer.concat(out, bytes));
    }
    out.length = 0;
  };

  sendHeaders(stream: H2Stream, headers: HeaderList, endStream: boolean): void {
    const block = this.hpackEncoder.encode(headers);
    const frames = encodeHeaders(stream.id, block, { endStream, maxFrameSize: this.peerMaxFrameSize });
    for (let i = 0; i < frames.length; i++) this.out.push(frames[i] as Buffer);
    this.scheduleFlush();
    if (endStream) this.endedLocally(stream);
  }

  flushStream(stream: H2Stream): boolean {
    const queued = stream.queued;
    while (stream.queuedBytes > 0) {
      const allowed = Math.min(stream.sendWindow.size, this.sendWindow.size, this.peerMaxFrameSize);
      if (allowed <= 0) {
        this.blocked.add(stream);
        this.scheduleFlush();
        return false;
      }
      const chunk = queued[0] as Buffer;
      const length = Math.min(chunk.length, allowed);
      let piece = chunk;
      if (length === chunk.length) queued.shift();
      else {
        piece = chunk.subarray(0, length);
        queued[0] = chunk.subarray(length);
      }
      stream.queuedBytes -= length;
      stream.sendWindow.consume(length);
      this.sendWindow.consume(length);
      const endsHere = stream.queuedBytes === 0 && stream.pendingEnd === true;
      this.out.push(frameHead(length, FrameType.DATA, endsHere ? Flag.END_STREAM : 0, stream.id), piece);
      if (endsHere) {
        stream.pendingEnd = undefined;
        this.scheduleFlush();
        this.endedLocally(stream);
        return true;
      }
    }
    this.blocked.delete(stream);
    this.scheduleFlush();
    const end = stream.pendingEnd;
    if (end !== undefined) {
      stream.pendingEnd = undefined;
      if (end === true) {
        this.out.push(frameHead(0, FrameType.DATA, Flag.END_STREAM, stream.id));
        this.endedLocally(stream);
      } else {
        this.sendHeaders(stream, end, true);
      }
    }
    return true;
  }

  sendReset(stream: H2Stream, code: number): void {
    if (stream.id === 0 || this.destroyed) return;
    this.resetByUs.add(stream.id);
    if (this.resetByUs.size > 4096) this.resetByUs.clear();
    this.queue(encodeRstStream(stream.id, code));
  }

  releaseReceived(stream: H2Stream, length: number): void {
    if (stream.closed || stream.remoteEnded) return;
    const increment = stream.receiveWindow.release(length);
    if (increment > 0) this.queue(encodeWindowUpdate(stream.id, increment));
  }

  forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.endIfIdle();
  }

  /** We sent END_STREAM. */
  private endedLocally(stream: H2Stream): void {
    stream.localEnded = true;
    this.closeIfOver(stream);
  }

  /** The peer sent END_STREAM. */
  private endedRemotely(stream: H2Stream): void {
    stream.remoteEnded = true;
    this.closeIfOver(stream);
  }

  /**
   * A stream is over once both sides ended it, or once the response is complete (RFC 9113 8.1): the rest of the
   * request is then not wanted, and a reset says so (NO_ERROR from a server that answered, CANCEL from a client).
   */
  private closeIfOver(stream: H2Stream): void {
    const responseComplete = this.role === "server" ? stream.localEnded : stream.remoteEnded;
    if (!responseComplete) return;
    if (!(stream.localEnded && stream.remoteEnded)) {
      this.sendReset(stream, this.role === "server" ? ErrorCode.NO_ERROR : ErrorCode.CANCEL);
    }
    stream.close("done", ErrorCode.NO_ERROR);
  }

  private endIfIdle(): void {
    if (!this.closing || this.streams.size > 0 || this.destroyed) return;
    this.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  // ---- receiving -----------------------------------------------------------------------------------------------

  private readonly onSocketData = (chunk: Buffer): void => {
    // After a connection error nothing more the peer sent is acted on.
    if (this.destroyed) return;
    if (!this.prefaceReceived) {
      chunk = this.readPreface(chunk);
      if (!this.prefaceReceived || chunk.length === 0) return;
    }
    this.decoder.push(chunk);
  };

  /** Takes the client preface off the front of the input; returns what follows it. */
  private readPreface(chunk: Buffer): Buffer {
    const seen = this.prefaceBytes.length > 0 ? Buffer.concat([this.prefaceBytes, chunk]) : chunk;
    const check = checkPreface(seen);
    if (check === "mismatch") {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface");
      return EMPTY;
    }
    if (check === "incomplete") {
      this.prefaceBytes = Buffer.from(seen);
      return EMPTY;
    }
    this.prefaceReceived = true;
    this.prefaceBytes = EMPTY;
    return seen.subarray(CONNECTION_PREFACE.length);
  }

  private readonly onSocketError = (error: Error): void => {
    this.socketError ??= error;
  };

  private readonly onSocketClose = (): void => {
    this.teardown();
  };

  private teardown(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.out.length = 0;
    const error = this.socketError ?? new Error("connection closed");
    for (const stream of [...this.streams.values()]) {
      if (!this.established && this.role === "client") stream.neverProcessed = true;
      stream.close("connection", ErrorCode.INTERNAL_ERROR, error);
    }
    this.streams.clear();
    this.blocked.clear();
    this.options.onClose?.(this);
  }

  /** A connection error: GOAWAY with the code and the reason as debug data, then close. */
  private connectionError(code: number, message: string): void {
    if (this.destroyed) return;
    this.socketError ??= new Error(`HTTP/2 ${errorCodeName(code)}: ${message}`);
    this.out.push(encodeGoAway(this.lastStreamId, code, Buffer.from(message.slice(0, 256))));
    this.flush();
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    this.teardown();
  }

  private streamError(streamId: number, code: number, reason: string): void {
    const stream = this.streams.get(streamId);
    if (stream) {
      this.sendReset(stream, code);
      stream.close("local-reset", code, new Error(`HTTP/2 ${errorCodeName(code)}: ${reason}`));
    } else {
      this.queue(encodeRstStream(streamId, code));
    }
  }

  /** Whether `streamId` names a stream the peer could not have used yet (idle, RFC 9113 5.1). */
  private isIdle(streamId: number): boolean {
    const peerInitiated = (streamId & 1) === (this.role === "server" ? 1 : 0);
    return peerInitiated ? this.role === "server" && streamId > this.lastStreamId : streamId >= this.nextStreamId;
  }

  onHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const list = this.received;
    let tooLarge: boolean;
    try {
      tooLarge = this.hpackDecoder.decode(block, list) === "header-list-too-large";
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      this.connectionError(ErrorCode.COMPRESSION_ERROR, error.message);
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream) {
      this.onStreamHeaders(stream, list, endStream);
      return;
    }
    if (this.role === "client" || (streamId & 1) === 0) {
      if (this.isIdle(streamId)) this.connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${streamId}`);
      return;
    }
    if (streamId <= this.lastStreamId) {
      if (!this.resetByUs.has(streamId))
        this.streamError(streamId, ErrorCode.STREAM_CLOSED, "HEADERS on a closed stream");
      return;
    }
    this.lastStreamId = streamId;
    this.openPeerStream(streamId, list, endStream, tooLarge);
  }

  private openPeerStream(streamId: number, list: HeaderList, endStream: boolean, tooLarge: boolean): void {
    // After our GOAWAY, streams above its last stream id are ignored (the client knows they were not processed).
    if (this.closing) return;
    if (this.streams.size >= this.maxConcurrentStreams) {
      this.queue(encodeRstStream(streamId, ErrorCode.REFUSED_STREAM));
      return;
    }
    const malformed = tooLarge ? undefined : malformedReason(list, "request");
    if (malformed) {
      this.queue(encodeRstStream(streamId, ErrorCode.PROTOCOL_ERROR));
      return;
    }
    const stream = new H2Stream(this, this.peerInitialWindowSize, this.initialWindowSize);
    stream.id = streamId;
    stream.headerBlocksReceived = 1;
    stream.headerListSize = this.hpackDecoder.lastListSize;
    this.streams.set(streamId, stream);
    if (endStream) stream.remoteEnded = true;
    if (this.earlyResetCredit < this.maxEarlyResets) this.earlyResetCredit += EARLY_RESET_CREDIT_PER_STREAM;
    try {
      this.options.onStream?.(stream, list, endStream);
    } catch (error) {
      this.handlerFailed(stream, error);
    }
  }

  /** A stream's handler threw: only that stream is reset (INTERNAL_ERROR) and the failure logged. */
  private handlerFailed(stream: H2Stream, error: unknown): void {
    try {
      this.onHandlerError(error, stream.id);
    } catch {}
    if (stream.closed) return;
    this.sendReset(stream, ErrorCode.INTERNAL_ERROR);
    try {
      stream.close("local-reset", ErrorCode.INTERNAL_ERROR, error instanceof Error ? error : new Error(String(error)));
    } catch (closeError) {
      // onClose threw as well: the stream is closed and forgotten regardless.
      try {
        this.onHandlerError(closeError, stream.id);
      } catch {}
    }
  }

  private onStreamHeaders(stream: H2Stream, list: HeaderList, endStream: boolean): void {
    if (stream.remoteEnded) {
      this.streamError(stream.id, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
      return;
    }
    const kind: BlockKind = this.role === "client" && stream.headerBlocksReceived === 0 ? "response" : "trailers";
    // Informational responses (1xx) come before the real one; gRPC has no use for them.
    if (kind === "response" && list.length > 0 && list.name(0) === ":status" && list.value(0).startsWith("1")) return;
    if (kind === "trailers" && !endStream) {
      this.streamError(stream.id, ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
      return;
    }
    const malformed = malformedReason(list, kind);
    if (malformed) {
      this.streamError(stream.id, ErrorCode.PROTOCOL_ERROR, malformed);
      return;
    }
    stream.headerBlocksReceived++;
    try {
      stream.handler.onHeaders(stream, list, endStream);
    } catch (error) {
      this.handlerFailed(stream, error);
      return;
    }
    if (endStream && !stream.closed) this.endedRemotely(stream);
  }

  onData(streamId: number, data: Buffer, endStream: boolean, flowControlledLength: number): void {
    if (!this.receiveWindow.receive(flowControlledLength)) {
      this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window");
      return;
    }
    // The connection window is given back at once: one slow stream must not stall the others.
    const increment = this.receiveWindow.release(flowControlledLength);
    if (increment > 0) this.queue(encodeWindowUpdate(0, increment));
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.isIdle(streamId)) this.connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      else if (!this.resetByUs.has(streamId))
        this.streamError(streamId, ErrorCode.STREAM_CLOSED, "DATA on a closed stream");
      return;
    }
    if (stream.remoteEnded) {
      this.streamError(streamId, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
      return;
    }
    if (this.role === "client" && stream.headerBlocksReceived === 0) {
      this.streamError(streamId, ErrorCode.PROTOCOL_ERROR, "DATA before response headers");
      return;
    }
    if (!stream.receiveWindow.receive(flowControlledLength)) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the stream window");
      return;
    }
    if (flowControlledLength > data.length) stream.consumed(flowControlledLength - data.length);
    if (data.length > 0 || endStream) {
      try {
        stream.handler.onData(stream, data, endStream);
      } catch (error) {
        this.handlerFailed(stream, error);
        return;
      }
    }
    if (stream.closed) return;
    if (endStream) this.endedRemotely(stream);
    else stream.consumed(data.length);
  }

  onPriority(): void {}

  onRstStream(streamId: number, errorCode: number): void {
    const stream = this.streams.get(streamId);
    if (stream) {
      stream.neverProcessed = errorCode === ErrorCode.REFUSED_STREAM;
      // A server's stream reset by the peer before its response completed: rapid reset counts these.
      const early = this.role === "server" && !stream.localEnded;
      try {
        stream.close("peer-reset", errorCode);
      } catch (error) {
        try {
          this.onHandlerError(error, streamId);
        } catch {}
      }
      if (early) this.countEarlyReset();
    } else if (this.isIdle(streamId)) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    }
  }

  onSettings(settings: Settings): void {
    if (!this.withinControlBudget()) return;
    if (settings.initialWindowSize !== undefined) {
      const delta = settings.initialWindowSize - this.peerInitialWindowSize;
      this.peerInitialWindowSize = settings.initialWindowSize;
      for (const stream of this.streams.values()) {
        if (stream.sendWindow.size + delta > MAX_WINDOW_SIZE) {
          this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE change overflows a stream window");
          return;
        }
        stream.sendWindow.size += delta;
      }
    }
    if (settings.maxFrameSize !== undefined) this.peerMaxFrameSize = settings.maxFrameSize;
    if (settings.maxConcurrentStreams !== undefined) this.peerMaxConcurrentStreams = settings.maxConcurrentStreams;
    if (settings.headerTableSize !== undefined) {
      this.hpackEncoder.setMaxTableSize(Math.min(settings.headerTableSize, 4096));
    }
    this.established = true;
    this.queue(encodeSettingsAck());
    this.flushBlocked();
  }

  onSettingsAck(): void {}

  onPushPromise(streamId: number): void {
    // We never enable push (a client) and clients cannot push (a server).
    this.connectionError(ErrorCode.PROTOCOL_ERROR, `PUSH_PROMISE on stream ${streamId}`);
  }

  onPing(opaqueData: Buffer, ack: boolean): void {
    if (ack || !this.withinControlBudget()) return;
    this.queue(encodePing(opaqueData, true));
  }

  onGoAway(lastStreamId: number, errorCode: number): void {
    this.peerLastStreamId = lastStreamId;
    for (const stream of [...this.streams.values()]) {
      // Streams we opened above the peer's last stream id were never processed: they may go elsewhere.
      if (this.role === "client" && stream.id > lastStreamId) {
        stream.neverProcessed = true;
        stream.close("goaway", errorCode);
      }
    }
    if (errorCode !== ErrorCode.NO_ERROR) this.socketError ??= new Error(`GOAWAY ${errorCodeName(errorCode)}`);
    this.closing = true;
    this.endIfIdle();
  }

  onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      if (!this.sendWindow.grow(increment)) {
        this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window over 2^31-1");
        return;
      }
      this.flushBlocked();
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.isIdle(streamId))
        this.connectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (!stream.sendWindow.grow(increment)) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, "stream window over 2^31-1");
      return;
    }
    if (stream.queuedBytes > 0 || stream.pendingEnd !== undefined) this.resumeStream(stream);
  }

  onError(error: FrameError): void {
    if (error.scope === "connection") this.connectionError(error.code, error.message);
    else this.streamError(error.streamId, error.code, error.message);
  }

  /** Streams waiting for window get it, in the order they blocked, until the connection window runs out. */
  private flushBlocked(): void {
    for (const stream of [...this.blocked]) {
      if (this.sendWindow.size <= 0) return;
      this.resumeStream(stream);
    }
  }

  private resumeStream(stream: H2Stream): void {
    if (stream.closed || !this.flushStream(stream) || !stream.wantsDrain) return;
    stream.wantsDrain = false;
    try {
      stream.handler.onDrain(stream);
    } catch (error) {
      this.handlerFailed(stream, error);
    }
  }

  /** Takes one early reset from the budget (which refills over time); past it, ENHANCE_YOUR_CALM. */
  private countEarlyReset(): void {
    const now = performance.now();
    const credit = this.earlyResetCredit + (now - this.earlyResetRefilledAt) * this.earlyResetsPerMs;
    this.earlyResetRefilledAt = now;
    this.earlyResetCredit = Math.min(credit, this.maxEarlyResets) - 1;
    if (this.earlyResetCredit >= 0) return;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many streams reset before their response (rapid reset)");
  }

  /** Counts a PING or SETTINGS; past the budget the connection ends with ENHANCE_YOUR_CALM. */
  private withinControlBudget(): boolean {
    const now = performance.now();
    if (now - this.controlWindowStart > CONTROL_WINDOW_MS) {
      this.controlWindowStart = now;
      this.controlFrames = 0;
    }
    if (++this.controlFrames <= this.maxControlFrames) return true;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many PING or SETTINGS frames");
    return false;
  }
}
