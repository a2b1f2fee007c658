import { Status } from "./status.ts";

export interface FrameViolation {
  code: number;
  message: string;
}

/**
 * Follows the gRPC length-prefixed messages (1 flag byte, 4 length bytes, payload) in a byte stream as it passes,
 * without copying payloads: it rejects messages above a size limit before they are forwarded, and tells whether
 * the stream ended on a message boundary.
 */
export class GrpcFrameMeter {
  private headerBytes = 0;
  private header = Buffer.alloc(5);
  private payloadRemaining = 0;
  messages = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly what: string,
  ) {}

  /** Checks the next chunk; returns a violation to answer with, or undefined when the chunk is fine. */
  push(chunk: Buffer): FrameViolation | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payloadRemaining > 0) {
        const take = Math.min(this.payloadRemaining, chunk.length - offset);
        this.payloadRemaining -= take;
        offset += take;
        continue;
      }
      const take = Math.min(5 - this.headerBytes, chunk.length - offset);
      chunk.copy(this.header, this.headerBytes, offset, offset + take);
      this.headerBytes += take;
      offset += take;
      if (this.headerBytes < 5) break;
      const violation = this.startMessage();
      if (violation) return violation;
    }
    return undefined;
  }

  /** Whether the stream may end here: between messages, not inside one. */
  endViolation(): FrameViolation | undefined {
    if (this.headerBytes === 0 && this.payloadRemaining === 0) return undefined;
    return { code: Status.INTERNAL, message: `${this.what} ended inside a message (truncated)` };
  }

  private startMessage(): FrameViolation | undefined {
    const flags = this.header[0] as number;
    const length = this.header.readUInt32BE(1);
    this.headerBytes = 0;
    this.messages++;
    if (flags > 1) {
      return {
        code: Status.INTERNAL,
        message: `${this.what} has a malformed message header (flags 0x${flags.toString(16)})`,
      };
    }
    if (length > this.maxMessageBytes) {
      return {
        code: Status.RESOURCE_EXHAUSTED,
        message: `${this.what} message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`,
      };
    }
    this.payloadRemaining = length;
    return undefined;
  }
}
