import { CircuitState, ConsecutiveBreaker, type IBreaker, SamplingBreaker } from "cockatiel";
import type { CircuitBreakerPolicy } from "../config/schema.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { statusName } from "../grpc/status.ts";

export type BreakerState = "closed" | "open" | "half_open";

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "open",
};

/**
 * One upstream's circuit breaker: attempts that fail with a configured status or below gRPC count as failures; once
 * open, attempts fail at once until halfOpenAfterMs passes, then one probe decides (calls meanwhile fail fast).
 * When to open is cockatiel's (its consecutive and sampling breakers); the states are kept here, synchronously,
 * because every attempt asks, and cockatiel's policy would wrap each one in promises.
 */
export class CircuitBreaker {
  private readonly breaker: IBreaker;
  private readonly failOn: ReadonlySet<string>;
  private current: CircuitState = CircuitState.Closed;
  private openedAt = 0;

  constructor(
    private readonly config: CircuitBreakerPolicy,
    private readonly onStateChange: (state: BreakerState) => void = () => {},
  ) {
    this.failOn = new Set<string>(config.failOn);
    this.breaker =
      config.mode === "consecutive"
        ? new ConsecutiveBreaker(config.consecutiveFailures)
        : new SamplingBreaker({
            threshold: config.failureRatio,
            duration: config.windowMs,
            minimumRps: config.minimumRequestsPerSecond,
          });
  }

  get state(): BreakerState {
    return STATE_NAMES[this.current];
  }

  /** Whether an attempt may go now; one that may must be followed by `record` of its outcome. */
  tryPass(now = Date.now()): boolean {
    if (this.current === CircuitState.Closed) return true;
    if (this.current === CircuitState.HalfOpen || now - this.openedAt < this.config.halfOpenAfterMs) return false;
    this.moveTo(CircuitState.HalfOpen);
    return true;
  }

  /** The outcome of an attempt that tryPass let through. */
  record(outcome: AttemptOutcome, now = Date.now()): void {
    const failed = !outcome.cancelled && (outcome.transportFailure || this.failOn.has(statusName(outcome.code)));
    const state = this.current;
    if (!failed) {
      this.breaker.success(state);
      if (state === CircuitState.HalfOpen) this.moveTo(CircuitState.Closed);
    } else if (this.breaker.failure(state) || state === CircuitState.HalfOpen) {
      this.openedAt = now;
      if (state !== CircuitState.Open) this.moveTo(CircuitState.Open);
    }
  }

  private moveTo(state: CircuitState): void {
    this.current = state;
    this.onStateChange(STATE_NAMES[state]);
  }
}
