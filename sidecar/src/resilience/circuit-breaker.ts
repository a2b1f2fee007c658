import {
  BrokenCircuitError,
  CircuitState,
  type CircuitBreakerPolicy as CockatielBreaker,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhenResult,
  SamplingBreaker,
} from "cockatiel";
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

/** Thrown instead of running an attempt while the breaker is open. */
export class CircuitOpenError extends Error {}

/**
 * One upstream's circuit breaker (cockatiel): attempts that fail with a configured status or below gRPC count as
 * failures; once open, attempts fail at once until halfOpenAfterMs passes and one probe decides.
 */
export class CircuitBreaker {
  private readonly policy: CockatielBreaker;

  constructor(config: CircuitBreakerPolicy, onStateChange: (state: BreakerState) => void = () => {}) {
    const failOn = new Set<string>(config.failOn);
    const isFailure = (outcome: AttemptOutcome) =>
      !outcome.cancelled && (outcome.transportFailure || failOn.has(statusName(outcome.code)));
    this.policy = circuitBreaker(
      handleWhenResult((result) => isFailure(result as AttemptOutcome)),
      {
        halfOpenAfter: config.halfOpenAfterMs,
        breaker:
          config.mode === "consecutive"
            ? new ConsecutiveBreaker(config.consecutiveFailures)
            : new SamplingBreaker({
                threshold: config.failureRatio,
                duration: config.windowMs,
                minimumRps: config.minimumRequestsPerSecond,
              }),
      },
    );
    this.policy.onStateChange((state) => onStateChange(STATE_NAMES[state]));
  }

  get state(): BreakerState {
    return STATE_NAMES[this.policy.state];
  }

  /** Runs an attempt through the breaker; rejects with CircuitOpenError while it is open. */
  async run(attempt: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
    try {
      return await this.policy.execute(attempt);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new CircuitOpenError("circuit open");
      throw error;
    }
  }
}
