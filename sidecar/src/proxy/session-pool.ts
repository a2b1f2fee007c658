import { type ClientHttp2Session, connect } from "node:http2";
import { splitAddress } from "../config/address.ts";
import type { MeshTls } from "../tls/mesh-tls.ts";

/**
 * One multiplexed HTTP/2 connection per upstream endpoint, opened on first use and replaced once it closes,
 * fails or receives GOAWAY. A connection that does not open within connectTimeoutMs is dropped, failing its
 * streams before they were sent, so they count as never processed. With mesh TLS, connections to another
 * service's sidecar are mutual TLS and must reach that service; the local app is always plaintext on loopback.
 */
export class SessionPool {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly tls?: MeshTls,
  ) {}

  /** Whether connections to other services' sidecars are mutual TLS. */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** The connection to `authority`; `peerService` names the mesh service expected there (mutual TLS). */
  get(authority: string, peerService?: string): ClientHttp2Session {
    const secure = this.tls && peerService !== undefined;
    const key = secure ? `${peerService}@${authority}` : authority;
    const existing = this.sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const { host, port } = splitAddress(authority);
    const session = secure
      ? connect(`https://${authority}`, {
          settings: { enablePush: false },
          createConnection: () => (this.tls as MeshTls).connect(host, port, peerService),
        })
      : connect(`http://${authority}`, { settings: { enablePush: false } });
    this.sessions.set(key, session);
    const forget = () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    };
    const timer = setTimeout(
      () => session.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    session.once("connect", () => clearTimeout(timer));
    session.once("close", () => {
      clearTimeout(timer);
      forget();
    });
    session.once("goaway", forget);
    session.on("error", forget);
    return session;
  }

  /**
   * Lets every mutual-TLS connection finish its open streams and opens new ones for new calls: after a renewal or a
   * root rotation, connections carry the new certificate instead of outliving the old one.
   */
  retireSecure(): void {
    for (const [key, session] of this.sessions) {
      if (!key.includes("@")) continue;
      this.sessions.delete(key);
      session.close();
    }
  }

  /** Closes every connection, letting open streams finish. */
  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
