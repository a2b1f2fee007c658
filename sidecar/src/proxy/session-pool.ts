import { connect as connectTcp, type Socket } from "node:net";
import { splitAddress } from "../config/address.ts";
import { Connection } from "../h2/proto/index.ts";
import type { MeshTls } from "../tls/mesh-tls.ts";

/**
 * One multiplexed HTTP/2 connection per upstream endpoint, opened on first use and replaced once it closes, fails
 * or receives GOAWAY. A connection that does not open within connectTimeoutMs is dropped, failing its streams
 * before they were sent, so they count as never processed. With mesh TLS, connections to another service's sidecar
 * are mutual TLS and must reach that service; the local app is always plaintext on loopback.
 */
export class SessionPool {
  private readonly connections = new Map<string, Connection>();

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly tls?: MeshTls,
  ) {}

  /** Whether connections to other services' sidecars are mutual TLS. */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** The connection to `authority`; `peerService` names the mesh service expected there (mutual TLS). */
  get(authority: string, peerService?: string): Connection {
    const secure = this.tls !== undefined && peerService !== undefined;
    const key = secure ? `${peerService}@${authority}` : authority;
    const existing = this.connections.get(key);
    if (existing?.canOpenStream) return existing;
    const { host, port } = splitAddress(authority);
    const socket: Socket =
      secure && this.tls ? this.tls.connect(host, port, peerService as string) : connectTcp({ host, port });
    const connection = Connection.client(socket, {
      onClose: () => {
        if (this.connections.get(key) === connection) this.connections.delete(key);
      },
    });
    this.connections.set(key, connection);
    // A previous connection that can take no new stream (GOAWAY, stream ids used up) finishes its open streams.
    existing?.close();
    const timer = setTimeout(
      () => connection.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    socket.once(secure ? "secureConnect" : "connect", () => clearTimeout(timer));
    socket.once("close", () => clearTimeout(timer));
    return connection;
  }

  /**
   * Lets every mutual-TLS connection finish its open streams and opens new ones for new calls: after a renewal or a
   * root rotation, connections carry the new certificate instead of outliving the old one.
   */
  retireSecure(): void {
    for (const [key, connection] of this.connections) {
      if (!key.includes("@")) continue;
      this.connections.delete(key);
      connection.close();
    }
  }

  /** Closes every connection, letting open streams finish. */
  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}
