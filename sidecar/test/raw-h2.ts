// A raw HTTP/2 peer for black-box conformance tests: it writes whatever frames a test builds (well formed or not)
// over a plain TCP socket and records every frame it receives as a simple record. It speaks through the repo's frame
// codec and HPACK, never through the HTTP/2 layer under test, and does nothing on its own beyond acknowledging the
// other side's SETTINGS and PINGs.
import { connect, createServer, type Socket } from "node:net";
import {
  CONNECTION_PREFACE,
  encodeHeaders,
  encodePing,
  encodeSettings,
  encodeSettingsAck,
  errorCodeName,
  FrameDecoder,
  type FrameError,
  type FrameHandler,
  type Settings,
} from "../src/h2/frame/index.ts";
import { Decoder, Encoder, HeaderList } from "../src/h2/hpack/index.ts";

export type Fields = [name: string, value: string][];

/** A received frame. DECODE_ERROR is not a frame: the bytes received broke RFC 9113 (as our decoder reads them). */
export type Frame =
  | { type: "DATA"; streamId: number; data: Buffer; endStream: boolean; length: number }
  | { type: "HEADERS"; streamId: number; fields: Fields; endStream: boolean }
  | { type: "PRIORITY"; streamId: number }
  | { type: "RST_STREAM"; streamId: number; code: number }
  | { type: "SETTINGS"; streamId: 0; settings: Settings; ack: boolean }
  | { type: "PUSH_PROMISE"; streamId: number }
  | { type: "PING"; streamId: 0; data: Buffer; ack: boolean }
  | { type: "GOAWAY"; streamId: 0; lastStreamId: number; code: number; debug: string }
  | { type: "WINDOW_UPDATE"; streamId: number; increment: number }
  | { type: "DECODE_ERROR"; streamId: number; message: string };

export type FrameOf<T extends Frame["type"]> = Extract<Frame, { type: T }>;

/** One frame with any type, flags, stream and payload: the way to send what the encoders refuse to build. */
export function rawFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

export function fieldValue(fields: Fields, name: string): string | undefined {
  return fields.find(([each]) => each === name)?.[1];
}

/** A frame as one short line, for failure messages. */
export function describeFrame(frame: Frame): string {
  switch (frame.type) {
    case "RST_STREAM":
      return `RST_STREAM(${frame.streamId}, ${errorCodeName(frame.code)})`;
    case "GOAWAY":
      return `GOAWAY(last ${frame.lastStreamId}, ${errorCodeName(frame.code)}, "${frame.debug}")`;
    case "HEADERS":
      return `HEADERS(${frame.streamId}${frame.endStream ? ", END_STREAM" : ""}: ${frame.fields.map(([n, v]) => `${n}=${v}`).join(" ")})`;
    case "DATA":
      return `DATA(${frame.streamId}, ${frame.data.length} bytes${frame.endStream ? ", END_STREAM" : ""})`;
    case "SETTINGS":
    case "PING":
      return frame.ack ? `${frame.type} ACK` : frame.type;
    case "DECODE_ERROR":
      return `DECODE_ERROR(${frame.message})`;
    default:
      return `${frame.type}(${frame.streamId})`;
  }
}

export interface RawH2Options {
  /** The SETTINGS sent first (after the preface, for a client). */
  settings?: Settings;
  /** Answer the other side's SETTINGS and PINGs (default true). */
  autoAck?: boolean;
}

/** One end of an HTTP/2 connection over a socket, driven by hand. */
export class RawH2 implements FrameHandler {
  readonly frames: Frame[] = [];
  /** Resolves when the socket has closed (either side). */
  readonly closed: Promise<void>;
  isClosed = false;
  /** Called with each frame as it arrives: how a test makes this peer behave (a raw upstream server, say). */
  onFrame: ((frame: Frame) => void) | undefined;
  /** No Huffman coding: header block sizes are then simple to reason about. */
  readonly encoder = new Encoder({ huffman: false });
  private readonly hpack = new Decoder({ maxHeaderListSize: 1 << 24 });
  private readonly decoder = new FrameDecoder(this, { maxFrameSize: 1 << 24, maxHeaderBlockSize: 1 << 24 });
  private readonly waiters = new Set<() => void>();
  private readonly autoAck: boolean;
  private prefacePending: Buffer | undefined;

  constructor(
    readonly socket: Socket,
    role: "client" | "server",
    options: RawH2Options = {},
  ) {
    this.autoAck = options.autoAck ?? true;
    if (role === "server") this.prefacePending = Buffer.alloc(0);
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
    socket.on("error", () => {}); // a reset after a GOAWAY is expected; `closed` reports the end
    socket.on("data", (chunk: Buffer) => this.onBytes(chunk));
    socket.setNoDelay(true);
    if (role === "client") socket.write(CONNECTION_PREFACE);
    socket.write(encodeSettings(options.settings ?? {}));
  }

  /** Connects to `host:port` and sends the preface and SETTINGS. */
  static connect(address: string, options?: RawH2Options): Promise<RawH2> {
    const [host, port] = address.split(":") as [string, string];
    const socket = connect(Number(port), host);
    return new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(new RawH2(socket, "client", options)));
      socket.once("error", reject);
    });
  }

  /** Writes frames (as encoders return them: Buffers or arrays of Buffers) in one write. */
  send(...frames: (Buffer | Buffer[])[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames.flat()));
  }

  /** A header block from this connection's HPACK encoder (which must then be sent, in order). */
  block(fields: Fields): Buffer {
    const list = new HeaderList();
    for (const [name, value] of fields) list.push(name, value);
    return this.encoder.encode(list);
  }

  /** HEADERS (plus CONTINUATIONs when the block is over 16384 bytes). */
  headers(streamId: number, fields: Fields, endStream = false): Buffer[] {
    return encodeHeaders(streamId, this.block(fields), { endStream });
  }

  ping(data: Buffer): void {
    this.send(encodePing(data, false));
  }

  /**
   * Resolves with the first defined result of `probe`, tried now and after every frame received. Rejects, listing
   * what did arrive, when there is none within `timeoutMs` or the connection closed first.
   */
  until<T>(probe: () => T | undefined, what: string, timeoutMs = 2000): Promise<T> {
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        reject(new Error(`${why} ${what}; received: ${this.summary()}`));
      };
      const check = () => {
        const result = probe();
        if (result !== undefined) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(result);
        } else if (this.isClosed) {
          fail("connection closed before");
        }
      };
      const timer = setTimeout(() => fail(`${timeoutMs} ms passed without`), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** The first frame received (earlier ones included) of `type` for which `match` holds; see `until`. */
  waitFor<T extends Frame["type"]>(
    type: T,
    match: (frame: FrameOf<T>) => boolean = () => true,
    timeoutMs = 2000,
  ): Promise<FrameOf<T>> {
    const matches = (frame: Frame): frame is FrameOf<T> => frame.type === type && match(frame as FrameOf<T>);
    return this.until(() => this.frames.find(matches), `a ${type} as awaited`, timeoutMs);
  }

  /** The first frame received (earlier ones included) for which `match` holds; see `until`. */
  waitForAny(match: (frame: Frame) => boolean, what: string, timeoutMs = 2000): Promise<Frame> {
    return this.until(() => this.frames.find(match), what, timeoutMs);
  }

  /** Frames of `type` received so far. */
  received<T extends Frame["type"]>(type: T, streamId?: number): FrameOf<T>[] {
    return this.frames.filter(
      (frame): frame is FrameOf<T> => frame.type === type && (streamId === undefined || frame.streamId === streamId),
    );
  }

  /** Everything received, frame by frame, runs of identical kinds folded. */
  summary(): string {
    const lines: string[] = [];
    let last = "";
    let repeats = 0;
    for (const frame of this.frames) {
      const line = describeFrame(frame);
      if (line === last) repeats++;
      else {
        if (repeats > 0) lines.push(`(x${repeats + 1})`);
        lines.push(line);
        last = line;
        repeats = 0;
      }
    }
    if (repeats > 0) lines.push(`(x${repeats + 1})`);
    return lines.join(", ") || "nothing";
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onBytes(chunk: Buffer): void {
    if (this.prefacePending) {
      const seen = Buffer.concat([this.prefacePending, chunk]);
      if (seen.length < CONNECTION_PREFACE.length) {
        this.prefacePending = seen;
        return;
      }
      this.prefacePending = undefined;
      chunk = seen.subarray(CONNECTION_PREFACE.length);
    }
    this.decoder.push(chunk);
    this.wake();
  }

  private record(frame: Frame): void {
    this.frames.push(frame);
    this.onFrame?.(frame);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  // FrameHandler: every frame becomes a record.
  onData(streamId: number, data: Buffer, endStream: boolean, length: number): void {
    this.record({ type: "DATA", streamId, data: Buffer.from(data), endStream, length });
  }

  onHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const list = new HeaderList();
    try {
      this.hpack.decode(block, list);
    } catch (error) {
      this.record({ type: "DECODE_ERROR", streamId, message: `HPACK: ${(error as Error).message}` });
      return;
    }
    this.record({ type: "HEADERS", streamId, fields: list.toArray(), endStream });
  }

  onPriority(streamId: number): void {
    this.record({ type: "PRIORITY", streamId });
  }

  onRstStream(streamId: number, code: number): void {
    this.record({ type: "RST_STREAM", streamId, code });
  }

  onSettings(settings: Settings): void {
    this.record({ type: "SETTINGS", streamId: 0, settings, ack: false });
    if (this.autoAck) this.send(encodeSettingsAck());
  }

  onSettingsAck(): void {
    this.record({ type: "SETTINGS", streamId: 0, settings: {}, ack: true });
  }

  onPushPromise(streamId: number): void {
    this.record({ type: "PUSH_PROMISE", streamId });
  }

  onPing(data: Buffer, ack: boolean): void {
    this.record({ type: "PING", streamId: 0, data: Buffer.from(data), ack });
    if (!ack && this.autoAck) this.send(encodePing(data, true));
  }

  onGoAway(lastStreamId: number, code: number, debug: Buffer): void {
    this.record({ type: "GOAWAY", streamId: 0, lastStreamId, code, debug: debug.toString("latin1") });
  }

  onWindowUpdate(streamId: number, increment: number): void {
    this.record({ type: "WINDOW_UPDATE", streamId, increment });
  }

  onError(error: FrameError): void {
    this.record({ type: "DECODE_ERROR", streamId: error.streamId, message: error.message });
  }
}

export interface RawServer {
  address: string;
  /** Every connection accepted, in order. */
  readonly peers: RawH2[];
  close(): Promise<void>;
}

/** A raw HTTP/2 server on a free loopback port: `onConnection` drives each connection by hand. */
export function startRawServer(onConnection: (peer: RawH2) => void, options?: RawH2Options): Promise<RawServer> {
  const peers: RawH2[] = [];
  const server = createServer((socket) => {
    const peer = new RawH2(socket, "server", options);
    peers.push(peer);
    onConnection(peer);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        address: `127.0.0.1:${port}`,
        peers,
        close: () =>
          new Promise((done) => {
            for (const peer of peers) peer.destroy();
            server.close(() => done());
          }),
      });
    }),
  );
}

/** Resolves with the first defined result of `probe`, polled, for conditions that span connections. */
export async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = probe();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`${timeoutMs} ms passed without ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
