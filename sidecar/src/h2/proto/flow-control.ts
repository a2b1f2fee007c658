import { MAX_WINDOW_SIZE } from "../frame/index.ts";

/** RFC 9113 6.9.2: every window starts at 65,535 octets until SETTINGS or WINDOW_UPDATE say otherwise. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;

/**
 * How much we may still send: the peer's window for one stream or for the whole connection. It can go negative when
 * the peer lowers SETTINGS_INITIAL_WINDOW_SIZE with data already sent (RFC 9113 6.9.2).
 */
export class SendWindow {
  constructor(public size: number) {}

  consume(length: number): void {
    this.size -= length;
  }

  /** A WINDOW_UPDATE; false when it would take the window past 2^31-1, which is a FLOW_CONTROL_ERROR. */
  grow(increment: number): boolean {
    if (this.size + increment > MAX_WINDOW_SIZE) return false;
    this.size += increment;
    return true;
  }
}

/**
 * How much the peer may still send us, and what we owe it back. Received bytes are released once the reader is done
 * with them (relayed on, in a proxy); the window is topped up in one WINDOW_UPDATE once half of it was released,
 * instead of one frame per DATA frame.
 */
export class ReceiveWindow {
  /** Octets the peer may still send before it must wait for a WINDOW_UPDATE. */
  available: number;
  private released = 0;

  constructor(readonly target: number) {
    this.available = target;
  }

  /** Counts a received DATA payload (padding included); false when the peer overran its window. */
  receive(length: number): boolean {
    if (length > this.available) return false;
    this.available -= length;
    return true;
  }

  /** Gives back octets the reader is done with; returns the WINDOW_UPDATE increment to send now, or 0. */
  release(length: number): number {
    this.released += length;
    if (this.released < this.target / 2) return 0;
    const increment = this.released;
    this.released = 0;
    this.available += increment;
    return increment;
  }
}
