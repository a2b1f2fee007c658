/** How one attempt at an upstream ended, as the resilience policies see it. */
export interface AttemptOutcome {
  /** The gRPC status: from the upstream's trailers, or the proxy's own for transport failures. */
  code: number;
  message: string;
  /** Response data reached the caller: the call can no longer be retried. */
  committed: boolean;
  /** The request provably never reached the upstream app (refused connection, REFUSED_STREAM, GOAWAY). */
  neverProcessed: boolean;
  /**
   * The upstream answered with a sidecar's shed answer (see SHED_HEADER): when the upstream is another service's
   * sidecar, which drops mesh-internal fields from its app's answers, the call never reached that app. Only the
   * outbound pipeline acts on it; the inbound side's upstream is its own app, whose word is never taken for it.
   */
  shed?: boolean;
  /** The attempt failed below gRPC (connection or stream error), not with a status the upstream sent. */
  transportFailure: boolean;
  /** The proxy ended the attempt itself (deadline passed or caller cancelled). */
  cancelled: boolean;
  /** The proxy cancelled it because it did not answer within the per-try timeout. */
  timedOut?: boolean;
}
