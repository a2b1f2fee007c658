import { FrameError, HeaderBlockTooLargeError } from "./errors.ts";
import { FRAME_HEAD_LENGTH, readPayloadLength, readStreamId } from "./head.ts";
import { PRIORITY_LENGTH, type Priority, readPriority } from "./priority.ts";
import { decodeSettings, SETTING_ENTRY_LENGTH, type Settings } from "./settings.ts";
import { DEFAULT_MAX_FRAME_SIZE, ErrorCode, Flag, FrameType, MAX_STREAM_ID } from "./types.ts";

/**
 * Receives decoded frames. One method per type with the fields as arguments, rather than a returned array of frame
 * objects: the decoder then allocates nothing per frame beyond the payload views themselves (no frame object, no
 * result array), which matters for DATA, the bulk of the traffic.
 *
 * Buffers passed in are views of the chunks given to `push` whenever a frame (or a header block) arrived in one
 * chunk, so the caller must not reuse a chunk's memory while it still holds such a view.
 */
export interface FrameHandler {
  /** `flowControlledLength` is the whole payload including padding: that is what flow control counts. */
  onData(streamId: number, data: Buffer, endStream: boolean, flowControlledLength: number): void;
  /** Called once per header block, after its END_HEADERS, with the fragments of HEADERS and CONTINUATION joined. */
  onHeaders(streamId: number, headerBlock: Buffer, endStream: boolean, priority: Priority | undefined): void;
  onPriority(streamId: number, priority: Priority): void;
  onRstStream(streamId: number, errorCode: number): void;
  onSettings(settings: Settings): void;
  onSettingsAck(): void;
  onPushPromise(streamId: number, promisedStreamId: number, headerBlock: Buffer): void;
  onPing(opaqueData: Buffer, ack: boolean): void;
  onGoAway(lastStreamId: number, errorCode: number, debugData: Buffer): void;
  onWindowUpdate(streamId: number, increment: number): void;
  /** After a connection error the decoder ignores all further input; after a stream error it carries on. */
  onError(error: FrameError): void;
}

export interface FrameDecoderOptions {
  /** Our SETTINGS_MAX_FRAME_SIZE: larger frames are a connection FRAME_SIZE_ERROR. Default 16384. */
  maxFrameSize?: number;
  /** Bound on one header block across HEADERS/PUSH_PROMISE and its CONTINUATIONs. Default 64 KiB. */
  maxHeaderBlockSize?: number;
}

/** Comfortably above gRPC's usual 8 KiB metadata limit, small enough that CONTINUATION floods cannot grow memory. */
export const DEFAULT_MAX_HEADER_BLOCK_SIZE = 64 * 1024;

const EMPTY = Buffer.alloc(0);
const NO_BLOCK = 0;

/**
 * A streaming HTTP/2 frame decoder: a state machine fed chunks split anywhere. It keeps one frame's state in fields
 * (reused from frame to frame) and copies a payload only when it straddles chunks.
 */
export class FrameDecoder {
  readonly #handler: FrameHandler;
  #maxFrameSize: number;
  readonly #maxHeaderBlockSize: number;
  #failed = false;

  // A frame head split across chunks is gathered here.
  readonly #head = Buffer.alloc(FRAME_HEAD_LENGTH);
  #headFilled = 0;

  // The frame being read.
  #readingPayload = false;
  #length = 0;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  /** Set when the payload is to be dropped unread: unknown frame types, or a stream error found from the head. */
  #discarding = false;
  /** The copy of a payload that straddles chunks; undefined while the payload may still be a view. */
  #payloadCopy: Buffer | undefined;
  #payloadFilled = 0;

  // The header block awaiting CONTINUATION frames (NO_BLOCK when none is open).
  #blockStreamId = NO_BLOCK;
  #blockType = 0;
  #blockEndStream = false;
  #blockPriority: Priority | undefined;
  #blockPromisedStreamId = 0;
  readonly #blockFragments: Buffer[] = [];
  #blockSize = 0;

  constructor(handler: FrameHandler, options: FrameDecoderOptions = {}) {
    this.#handler = handler;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxHeaderBlockSize = options.maxHeaderBlockSize ?? DEFAULT_MAX_HEADER_BLOCK_SIZE;
  }

  /** Raises or lowers the accepted frame size, once the peer acknowledged our SETTINGS_MAX_FRAME_SIZE. */
  set maxFrameSize(size: number) {
    this.#maxFrameSize = size;
  }

  /** True once a connection error was reported: the connection must be closed. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Whether the input so far ended on a frame boundary with no header block left open. */
  get idle(): boolean {
    return !this.#readingPayload && this.#headFilled === 0 && this.#blockStreamId === NO_BLOCK;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (!this.#failed) {
      if (!this.#readingPayload) {
        if (offset >= chunk.length) return;
        offset = this.#readHead(chunk, offset);
        if (this.#headFilled < FRAME_HEAD_LENGTH) return;
        this.#headFilled = 0;
        this.#startFrame();
        continue;
      }
      const remaining = this.#length - this.#payloadFilled;
      const available = chunk.length - offset;
      if (remaining > 0 && available === 0) return;
      if (this.#discarding) {
        const skipped = Math.min(remaining, available);
        offset += skipped;
        this.#payloadFilled += skipped;
        if (this.#payloadFilled === this.#length) this.#readingPayload = false;
      } else if (this.#payloadFilled === 0 && available >= this.#length) {
        const payload = this.#length === 0 ? EMPTY : chunk.subarray(offset, offset + this.#length);
        offset += this.#length;
        this.#readingPayload = false;
        this.#dispatch(payload);
      } else {
        this.#payloadCopy ??= Buffer.allocUnsafe(this.#length);
        const copied = chunk.copy(
          this.#payloadCopy,
          this.#payloadFilled,
          offset,
          offset + Math.min(remaining, available),
        );
        offset += copied;
        this.#payloadFilled += copied;
        if (this.#payloadFilled === this.#length) {
          const payload = this.#payloadCopy;
          this.#payloadCopy = undefined;
          this.#readingPayload = false;
          this.#dispatch(payload);
        }
      }
    }
  }

  /** Reads the head straight from the chunk when it is all there, else gathers it; returns the new offset. */
  #readHead(chunk: Buffer, offset: number): number {
    if (this.#headFilled === 0 && chunk.length - offset >= FRAME_HEAD_LENGTH) {
      this.#setHead(chunk, offset);
      this.#headFilled = FRAME_HEAD_LENGTH;
      return offset + FRAME_HEAD_LENGTH;
    }
    const copied = chunk.copy(this.#head, this.#headFilled, offset, offset + FRAME_HEAD_LENGTH - this.#headFilled);
    this.#headFilled += copied;
    if (this.#headFilled === FRAME_HEAD_LENGTH) this.#setHead(this.#head, 0);
    return offset + copied;
  }

  #setHead(source: Buffer, offset: number): void {
    this.#length = readPayloadLength(source, offset);
    this.#type = source[offset + 3] ?? 0;
    this.#flags = source[offset + 4] ?? 0;
    this.#streamId = readStreamId(source, offset + 5);
  }

  #startFrame(): void {
    this.#readingPayload = true;
    this.#payloadFilled = 0;
    this.#discarding = false;
    const error = this.#checkHead();
    if (error) {
      this.#report(error);
      this.#discarding = true;
    } else if (this.#type > FrameType.CONTINUATION) {
      this.#discarding = true; // unknown types must be ignored (RFC 9113 section 4.1)
    }
  }

  /** The checks that need only the head, so a bad frame is refused before its payload is buffered. */
  #checkHead(): FrameError | undefined {
    const type = this.#type;
    const length = this.#length;
    if (length > this.#maxFrameSize) {
      return this.#connectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        `frame of ${length} bytes exceeds ${this.#maxFrameSize}`,
      );
    }
    if (this.#blockStreamId !== NO_BLOCK) {
      if (type !== FrameType.CONTINUATION || this.#streamId !== this.#blockStreamId) {
        return this.#connectionError(
          ErrorCode.PROTOCOL_ERROR,
          `frame type 0x${type.toString(16)} on stream ${this.#streamId} interrupts the header block of stream ${this.#blockStreamId}`,
        );
      }
      return undefined;
    }
    switch (type) {
      case FrameType.DATA:
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE:
        return this.#requireStream();
      case FrameType.CONTINUATION:
        return (
          this.#requireStream() ??
          this.#connectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without an open header block")
        );
      case FrameType.PRIORITY:
        return (
          this.#requireStream() ??
          (length === PRIORITY_LENGTH
            ? undefined
            : new FrameError(
                "stream",
                ErrorCode.FRAME_SIZE_ERROR,
                this.#streamId,
                `PRIORITY of ${length} bytes, not 5`,
              ))
        );
      case FrameType.RST_STREAM:
        return this.#requireStream() ?? this.#requireLength(4);
      case FrameType.WINDOW_UPDATE:
        return this.#requireLength(4);
      case FrameType.PING:
        return this.#requireConnection() ?? this.#requireLength(8);
      case FrameType.GOAWAY:
        return (
          this.#requireConnection() ??
          (length >= 8
            ? undefined
            : this.#connectionError(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY of ${length} bytes, under 8`))
        );
      case FrameType.SETTINGS: {
        const notOnConnection = this.#requireConnection();
        if (notOnConnection) return notOnConnection;
        if (this.#flags & Flag.ACK) {
          return length === 0
            ? undefined
            : this.#connectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
        }
        return length % SETTING_ENTRY_LENGTH === 0
          ? undefined
          : this.#connectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS of ${length} bytes, not a multiple of 6`);
      }
      default:
        return undefined;
    }
  }

  #requireStream(): FrameError | undefined {
    return this.#streamId === 0
      ? this.#connectionError(ErrorCode.PROTOCOL_ERROR, `frame type 0x${this.#type.toString(16)} must be on a stream`)
      : undefined;
  }

  #requireConnection(): FrameError | undefined {
    return this.#streamId === 0
      ? undefined
      : this.#connectionError(ErrorCode.PROTOCOL_ERROR, `frame type 0x${this.#type.toString(16)} must be on stream 0`);
  }

  #requireLength(expected: number): FrameError | undefined {
    return this.#length === expected
      ? undefined
      : this.#connectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          `frame type 0x${this.#type.toString(16)} of ${this.#length} bytes, not ${expected}`,
        );
  }

  #connectionError(code: ErrorCode, message: string): FrameError {
    return new FrameError("connection", code, this.#streamId, message);
  }

  #report(error: FrameError): void {
    if (error.scope === "connection") this.#failed = true;
    this.#handler.onError(error);
  }

  #dispatch(payload: Buffer): void {
    const handler = this.#handler;
    const streamId = this.#streamId;
    const flags = this.#flags;
    switch (this.#type) {
      case FrameType.DATA: {
        const data = this.#unpad(payload, 0);
        if (data) handler.onData(streamId, data, (flags & Flag.END_STREAM) !== 0, payload.length);
        return;
      }
      case FrameType.HEADERS: {
        const hasPriority = (flags & Flag.PRIORITY) !== 0;
        const fields = this.#unpad(payload, hasPriority ? PRIORITY_LENGTH : 0);
        if (!fields) return;
        const priority = hasPriority ? readPriority(fields, 0) : undefined;
        this.#openBlock(fields.subarray(hasPriority ? PRIORITY_LENGTH : 0), priority, 0);
        return;
      }
      case FrameType.PUSH_PROMISE: {
        const fields = this.#unpad(payload, 4);
        if (fields) this.#openBlock(fields.subarray(4), undefined, readStreamId(fields, 0));
        return;
      }
      case FrameType.CONTINUATION:
        this.#addFragment(payload);
        return;
      case FrameType.PRIORITY:
        handler.onPriority(streamId, readPriority(payload, 0));
        return;
      case FrameType.RST_STREAM:
        handler.onRstStream(streamId, payload.readUInt32BE(0));
        return;
      case FrameType.SETTINGS:
        this.#dispatchSettings(payload);
        return;
      case FrameType.PING:
        handler.onPing(payload, (flags & Flag.ACK) !== 0);
        return;
      case FrameType.GOAWAY:
        handler.onGoAway(readStreamId(payload, 0), payload.readUInt32BE(4), payload.subarray(8));
        return;
      case FrameType.WINDOW_UPDATE:
        this.#dispatchWindowUpdate(payload);
        return;
    }
  }

  /**
   * Strips PADDED padding and checks that `fixedLength` bytes of fields fit before it; returns the fields and
   * fragment (or data), or undefined after reporting the error.
   */
  #unpad(payload: Buffer, fixedLength: number): Buffer | undefined {
    const padded = (this.#flags & Flag.PADDED) !== 0;
    const padLengthBytes = padded ? 1 : 0;
    if (payload.length < padLengthBytes + fixedLength) {
      this.#report(
        this.#connectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${payload.length} bytes too short for its fields`),
      );
      return undefined;
    }
    if (!padded) return payload;
    const padLength = payload[0] ?? 0;
    const end = payload.length - padLength;
    if (end < padLengthBytes + fixedLength) {
      this.#report(
        this.#connectionError(
          ErrorCode.PROTOCOL_ERROR,
          `padding of ${padLength} bytes exceeds the ${payload.length}-byte payload`,
        ),
      );
      return undefined;
    }
    return payload.subarray(padLengthBytes, end);
  }

  #openBlock(fragment: Buffer, priority: Priority | undefined, promisedStreamId: number): void {
    this.#blockStreamId = this.#streamId;
    this.#blockType = this.#type;
    this.#blockEndStream = (this.#flags & Flag.END_STREAM) !== 0;
    this.#blockPriority = priority;
    this.#blockPromisedStreamId = promisedStreamId;
    this.#blockSize = 0;
    this.#addFragment(fragment);
  }

  #addFragment(fragment: Buffer): void {
    this.#blockSize += fragment.length;
    if (this.#blockSize > this.#maxHeaderBlockSize) {
      this.#report(new HeaderBlockTooLargeError(this.#blockStreamId, this.#blockSize, this.#maxHeaderBlockSize));
      return;
    }
    this.#blockFragments.push(fragment);
    if ((this.#flags & Flag.END_HEADERS) === 0) return;
    const fragments = this.#blockFragments;
    const block = fragments.length === 1 ? (fragments[0] ?? EMPTY) : Buffer.concat(fragments, this.#blockSize);
    fragments.length = 0;
    const streamId = this.#blockStreamId;
    this.#blockStreamId = NO_BLOCK;
    if (this.#blockType === FrameType.HEADERS) {
      this.#handler.onHeaders(streamId, block, this.#blockEndStream, this.#blockPriority);
    } else {
      this.#handler.onPushPromise(streamId, this.#blockPromisedStreamId, block);
    }
    this.#blockPriority = undefined;
  }

  #dispatchSettings(payload: Buffer): void {
    if (this.#flags & Flag.ACK) {
      this.#handler.onSettingsAck();
      return;
    }
    const settings = decodeSettings(payload);
    if (settings instanceof FrameError) this.#report(settings);
    else this.#handler.onSettings(settings);
  }

  #dispatchWindowUpdate(payload: Buffer): void {
    const increment = payload.readUInt32BE(0) & MAX_STREAM_ID;
    if (increment !== 0) {
      this.#handler.onWindowUpdate(this.#streamId, increment);
      return;
    }
    // RFC 9113 section 6.9: a zero increment on a stream only breaks that stream.
    const scope = this.#streamId === 0 ? "connection" : "stream";
    this.#report(
      new FrameError(scope, ErrorCode.PROTOCOL_ERROR, this.#streamId, "WINDOW_UPDATE with an increment of 0"),
    );
  }
}
