import { connect as connectTcp, type Socket } from "node:net";
import {
  connect,
  createSecureContext,
  createServer,
  type SecureContext,
  type SecureContextOptions,
  type TLSSocket,
  type Server as TlsServer,
} from "node:tls";
import type { ConnectCredentials, MeshCredentials } from "./connect-credentials.ts";
import { checkClient, checkServer, type Peer } from "./peer-check.ts";

// Every hop between sidecars: TLS 1.3 only, HTTP/2 only.
const MIN_VERSION = "TLSv1.3";
const ALPN = ["h2"];

function contextOptions(credentials: MeshCredentials): SecureContextOptions {
  return { cert: credentials.certPem, key: credentials.keyPem, ca: credentials.roots, minVersion: MIN_VERSION };
}

export interface InboundTlsOptions {
  handshakeTimeoutMs: number;
  /** An accepted connection that negotiated h2, with who the peer is (or why it is not trusted). */
  onConnection: (socket: TLSSocket, peer: Peer) => void;
  /** A TLS client that did not negotiate h2 (an HTTPS/1.1 client, say). */
  onNotHttp2: (socket: TLSSocket) => void;
  /** A handshake that failed or did not finish in time. */
  onHandshakeError: (error: Error) => void;
}

/**
 * Mutual TLS at the socket level, for any HTTP/2 layer on top: the inbound side accepts raw sockets handed to it,
 * the outbound side opens verified connections. Credentials swap in for new connections as Consul renews them.
 */
export class MeshTls {
  private credentials: MeshCredentials;
  private clientContext: SecureContext;
  private readonly servers = new Set<TlsServer>();
  private readonly stopWatching: () => void;

  constructor(source: ConnectCredentials, initial: MeshCredentials) {
    this.credentials = initial;
    this.clientContext = createSecureContext(contextOptions(initial));
    this.stopWatching = source.onChange((next) => this.swap(next));
  }

  get trustDomain(): string {
    return this.credentials.trustDomain;
  }

  get current(): MeshCredentials {
    return this.credentials;
  }

  private swap(next: MeshCredentials) {
    this.credentials = next;
    this.clientContext = createSecureContext(contextOptions(next));
    for (const server of this.servers) server.setSecureContext(contextOptions(next));
  }

  /**
   * A TLS server that takes sockets through `emit("connection", socket)`; it requests a client certificate but
   * checks it itself after the handshake, so an untrusted caller can be told why over the encrypted connection.
   */
  createServer(options: InboundTlsOptions): TlsServer {
    const server = createServer({
      ...contextOptions(this.credentials),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ALPN,
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      if (socket.alpnProtocol !== "h2") return options.onNotHttp2(socket);
      options.onConnection(socket, checkClient(socket, this.credentials.trustDomain));
    });
    server.on("tlsClientError", (error: Error, socket: Socket) => {
      // Node destroys a socket whose handshake failed itself (after sending the alert); a timed-out one it leaves open.
      if (!socket.destroyed) socket.destroy();
      options.onHandshakeError(error);
    });
    this.servers.add(server);
    return server;
  }

  /** Opens a connection to a peer sidecar that must prove it is `service` of this mesh. */
  connect(host: string, port: number, service: string): TLSSocket {
    return connect({
      // Our own TCP socket, so Nagle's algorithm is off on it: small frames go out at once.
      socket: connectTcp({ host, port, noDelay: true }),
      host,
      port,
      secureContext: this.clientContext,
      ALPNProtocols: ALPN,
      checkServerIdentity: (_host, certificate) => checkServer(certificate, this.credentials.trustDomain, service),
    });
  }

  close(): void {
    this.servers.clear();
    this.stopWatching();
  }
}
