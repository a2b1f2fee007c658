import type { IncomingHttpHeaders } from "node:http2";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createNetServer, type Server, type Socket } from "node:net";

// Every HTTP/2 connection opens with this preface (RFC 9113, 3.4).
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const NOT_HTTP2 =
  "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
  "this port serves gRPC over HTTP/2 (h2c) only\n";

export interface H2cServerOptions {
  maxConcurrentStreams: number;
  /** Connections that send nothing for this long are closed. */
  idleTimeoutMs: number;
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
}

export interface H2cServer {
  readonly net: Server;
  readonly http2: Http2Server;
  /** Live HTTP/2 sessions, to send GOAWAY to on drain. */
  readonly sessions: Set<Http2Session>;
}

/**
 * A cleartext HTTP/2 server that first looks at the connection preface: anything else (HTTP/1.1, TLS, garbage)
 * gets a plain one-line answer and a closed connection, instead of an opaque protocol error.
 */
export function createH2cServer(options: H2cServerOptions): H2cServer {
  const http2 = createHttp2Server({
    settings: { maxConcurrentStreams: options.maxConcurrentStreams },
    maxSessionMemory: 64,
  });
  const sessions = new Set<Http2Session>();
  http2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {});
    session.setTimeout(options.idleTimeoutMs, () => session.close());
  });
  http2.on("sessionError", () => {});
  http2.on("stream", options.onStream);

  const net = createNetServer((socket: Socket) => {
    socket.on("error", () => {});
    socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      const length = Math.min(first.length, PREFACE.length);
      if (first.subarray(0, length).equals(PREFACE.subarray(0, length))) {
        socket.setTimeout(0);
        // Node's HTTP/2 session takes bytes already buffered on the socket (on the next tick): keep them there.
        socket.pause();
        socket.unshift(first);
        http2.emit("connection", socket);
      } else {
        socket.end(NOT_HTTP2);
      }
    });
  });
  return { net, http2, sessions };
}

/** Listens on `host:port` (port 0 picks a free one) and resolves with the bound port. */
export function listen(server: Server, address: string): Promise<number> {
  const separator = address.lastIndexOf(":");
  const host = address.slice(0, separator).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(separator + 1));
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `${address} is already in use`
            : `cannot listen on ${address}: ${error.message}`,
        ),
      ),
    );
    server.listen(port, host, () => {
      const bound = server.address();
      resolve(typeof bound === "object" && bound ? bound.port : port);
    });
  });
}
