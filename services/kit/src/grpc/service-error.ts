import { Metadata, status } from "@grpc/grpc-js";
import { databaseUnavailable } from "../db/database-unavailable.ts";

/** A failure a handler reports to its caller as a gRPC status with a message (and optional trailers). */
export class ServiceError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly trailers: Metadata = new Metadata(),
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

export interface StatusReport {
  code: status;
  details: string;
  metadata: Metadata;
}

/**
 * Maps anything a handler threw to the status the caller sees; unexpected errors never leak their text. A database
 * that is down or restarting is UNAVAILABLE: the call was not applied, and callers (and sidecars) may retry it.
 */
export function toStatusReport(error: unknown): StatusReport {
  if (error instanceof ServiceError) {
    return { code: error.code, details: error.message, metadata: error.trailers };
  }
  const unavailable = databaseUnavailable(error);
  if (unavailable) {
    return { code: status.UNAVAILABLE, details: `database unavailable (${unavailable})`, metadata: new Metadata() };
  }
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}
