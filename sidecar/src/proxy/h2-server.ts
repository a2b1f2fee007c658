import { createServer as createNetServer, type Server, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { splitAddress } from "../config/address.ts";
import { Status } from "../grpc/status.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { Connection, type H2Stream } from "../h2/proto/index.ts";
import type { MeshTls } from "../tls/mesh-tls.ts";
import type { Peer, RefusalKind } from "../tls/peer-check.ts";
import { rejectRequest } from "./grpc-request.ts";

// Every HTTP/2 connection opens with this preface (RFC 9113, 3.4); every TLS connection with a handshake record.
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const TLS_HANDSHAKE_RECORD = 0x16;
const NOT_HTTP2 =
  "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
  "this port serves gRPC over HTTP/2 (h2c) only\n";
const NOT_MESH_TLS =
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
  "this port serves gRPC over HTTP/2 with mutual TLS only (a mesh identity certificate from the Connect CA)\n";
const PLAINTEXT_ON_TLS_PORT =
  "plaintext HTTP/2 on a mutual-TLS port: connect with TLS 1.3 and a mesh identity certificate from the Connect CA";

export interface SecureInbound {
  tls: MeshTls;
  handshakeTimeoutMs: number;
  /** A connection that is refused, and why (a handshake error, an untrusted certificate...). */
  onRefused: (kind: RefusalKind, reason: string) => void;
}

export interface H2ServerOptions {
  maxConcurrentStreams: number;
  /** Bound on one request's header list; the request is answered, not kept, past it. */
  maxHeaderListSize: number;
  /** Connections that send nothing for this long are closed. */
  idleTimeoutMs: number;
  /** Mutual TLS: only verified mesh peers reach onStream; everyone else is told why and dropped. */
  secure?: SecureInbound;
  /**
   * A stream from a trusted peer: with mutual TLS, `peer` says who called. Set `stream.handler` before returning;
   * `headers` is reused once this returns.
   */
  onStream: (stream: H2Stream, headers: HeaderList, endStream: boolean, peer: Peer | undefined) => void;
  /** onStream or a stream's handler threw: that stream alone was reset (INTERNAL_ERROR). Defaults to stderr. */
  onHandlerError?: (error: unknown, streamId: number) => void;
}

export interface H2Server {
  readonly net: Server;
  /** Live HTTP/2 connections, to send GOAWAY to on drain. */
  readonly connections: Set<Connection>;
}

/**
 * An HTTP/2 server that first looks at what a connection opens with. Without mutual TLS it serves h2c, and answers
 * anything else (HTTP/1.1, TLS, garbage) with one plain line. With mutual TLS it takes TLS handshakes; a peer that is
 * not a trusted mesh service (plaintext HTTP/2, no or a bad certificate) gets UNAUTHENTICATED with the reason on
 * every stream and a closed connection, and never reaches onStream.
 */
export function createH2Server(options: H2ServerOptions): H2Server {
  const { secure } = options;
  const connections = new Set<Connection>();

  const openConnection = (socket: Socket, peer?: Peer) => {
    const rejected = peer && "rejected" in peer ? peer.rejected : undefined;
    const connection = Connection.server(socket, {
      maxConcurrentStreams: options.maxConcurrentStreams,
      maxHeaderListSize: Math.max(options.maxHeaderListSize * 4, 64 * 1024),
      onStream: (stream, headers, endStream) => {
        if (rejected === undefined) return options.onStream(stream, headers, endStream, peer);
        rejectRequest(stream, { httpStatus: 200, code: Status.UNAUTHENTICATED, message: rejected });
        connection.close();
      },
      onClose: () => connections.delete(connection),
      onHandlerError: options.onHandlerError,
    });
    connections.add(connection);
    socket.resume();
    // An untrusted peer gets its answer and no more time than a handshake would have had.
    if (rejected !== undefined) {
      socket.setTimeout(secure?.handshakeTimeoutMs ?? options.idleTimeoutMs, () => connection.destroy());
    } else {
      socket.setTimeout(options.idleTimeoutMs, () => connection.close());
    }
  };
  const tlsServer = secure?.tls.createServer({
    handshakeTimeoutMs: secure.handshakeTimeoutMs,
    onConnection: (socket: TLSSocket, peer: Peer) => {
      if ("rejected" in peer) secure.onRefused(peer.kind, peer.rejected);
      openConnection(socket, peer);
    },
    onNotHttp2: (socket) => {
      secure.onRefused("not_h2", "TLS without ALPN h2");
      socket.end(NOT_MESH_TLS);
    },
    onHandshakeError: (error) => secure.onRefused("handshake_failed", `TLS handshake failed: ${error.message}`),
  });

  const net = createNetServer((socket: Socket) => {
    socket.on("error", () => {});
    // Here, on the TCP socket: a TLS socket on top cannot switch Nagle's algorithm off for it.
    socket.setNoDelay(true);
    socket.setTimeout(secure?.handshakeTimeoutMs ?? options.idleTimeoutMs, () => {
      secure?.onRefused("silent", "sent nothing within the handshake timeout");
      socket.destroy();
    });
    socket.once("data", (first: Buffer) => {
      socket.setTimeout(0);
      // The protocol layer reads the first bytes again: put them back.
      socket.pause();
      socket.unshift(first);
      const length = Math.min(first.length, PREFACE.length);
      const h2c = first.subarray(0, length).equals(PREFACE.subarray(0, length));
      if (tlsServer && first[0] === TLS_HANDSHAKE_RECORD) {
        tlsServer.emit("connection", socket);
      } else if (h2c) {
        if (secure) secure.onRefused("plaintext", PLAINTEXT_ON_TLS_PORT);
        openConnection(socket, secure ? { rejected: PLAINTEXT_ON_TLS_PORT, kind: "plaintext" } : undefined);
      } else {
        if (secure) secure.onRefused("plaintext", "not TLS");
        socket.resume();
        socket.end(secure ? NOT_MESH_TLS : NOT_HTTP2);
      }
    });
  });
  return { net, connections };
}

/** Listens on `host:port` (port 0 picks a free one) and resolves with the bound port. */
export function listen(server: Server, address: string): Promise<number> {
  const { host, port } = splitAddress(address);
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
