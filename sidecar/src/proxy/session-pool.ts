import { type ClientHttp2Session, connect } from "node:http2";

/**
 * One multiplexed HTTP/2 connection per upstream endpoint, opened on first use and replaced once it closes,
 * fails or receives GOAWAY. A connection that does not open within connectTimeoutMs is dropped, failing its
 * streams before they were sent, so they count as never processed.
 */
export class SessionPool {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  constructor(private readonly connectTimeoutMs: number) {}

  get(authority: string): ClientHttp2Session {
    const existing = this.sessions.get(authority);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = connect(`http://${authority}`, { settings: { enablePush: false } });
    this.sessions.set(authority, session);
    const forget = () => {
      if (this.sessions.get(authority) === session) this.sessions.delete(authority);
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

  /** Closes every connection, letting open streams finish. */
  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
