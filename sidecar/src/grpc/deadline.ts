/** A call's deadline: the caller's grpc-timeout capped by the configured timeout, as an absolute time. */
export class Deadline {
  readonly at: number;

  constructor(
    callerTimeoutMs: number | undefined,
    configuredTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.at = now() + Math.min(callerTimeoutMs ?? Number.POSITIVE_INFINITY, configuredTimeoutMs);
  }

  /** Milliseconds left; what each attempt sends downstream as its grpc-timeout. */
  remainingMs(): number {
    return Math.max(0, this.at - this.now());
  }

  expired(): boolean {
    return this.remainingMs() <= 0;
  }
}
