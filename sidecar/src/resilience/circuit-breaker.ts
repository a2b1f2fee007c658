import { CircuitState, ConsecutiveBreaker, type IBreaker, SamplingBreaker } from "cockatiel";
import type { CircuitBreakerPolicy } from "../config/schema.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { statusName } from "../grpc/status.ts";

export type BreakerState = "closed" | "open" | "half_open";

/** What one breaker decides by: every key of the policy but its scope, which only says how many breakers there are. */
export type BreakerThresholds = Omit<CircuitBreakerPolicy, "scope">;

/** The key of the breaker that the methods missing from the descriptor sets share (method names contain a slash). */
export const UNDESCRIBED_METHODS = "undescribed";

/** How bad each state is for the upstream's summary: any open breaker makes the upstream read open. */
const SEVERITY: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "open",
};

/**
 * One circuit breaker (an upstream's, or one method's of it; see UpstreamBreakers): attempts that fail with a configured status or below gRPC count as failures; once
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
    private readonly config: BreakerThresholds,
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

/** Told about state changes of an upstream's breakers. */
export interface BreakerListener {
  /** The upstream's summary changed: the worst state of its breakers. */
  upstreamChanged(state: BreakerState): void;
  /** One method's breaker changed (scope `method` only); `method` is `package.Service/Method` or UNDESCRIBED_METHODS. */
  methodChanged(method: string, state: BreakerState): void;
}

/**
 * An upstream's circuit breakers: one for all its calls (scope `upstream`), or one per method (scope `method`), so
 * that failures of one method (charges a card gateway declines as errors) do not fail another method's calls (the
 * refunds that compensate them) fast. A method's breaker is made on its first call, and only for methods in the
 * descriptor sets: any other path shares one breaker, so a caller inventing paths cannot grow the state.
 */
export class UpstreamBreakers {
  private readonly whole: CircuitBreaker | undefined;
  private readonly byMethod = new Map<string, CircuitBreaker>();
  private summary: BreakerState = "closed";

  constructor(
    private readonly config: CircuitBreakerPolicy,
    private readonly listener: BreakerListener,
  ) {
    if (config.scope === "upstream") {
      this.whole = new CircuitBreaker(config, (state) => this.summarize(state));
    }
  }

  /** The worst state of the upstream's breakers: open when any is open, else half-open when any is probing. */
  get state(): BreakerState {
    return this.summary;
  }

  /** Each method's breaker state (scope `method`: the methods called so far), undefined with scope `upstream`. */
  methodStates(): Record<string, BreakerState> | undefined {
    if (this.whole) return undefined;
    return Object.fromEntries([...this.byMethod].map(([method, breaker]) => [method, breaker.state]));
  }

  /**
   * The breaker the attempts of a method path (`/package.Service/Method`) pass through; `described` tells whether
   * the descriptor sets know the path. Resolve it once per route, not per call.
   */
  breakerFor(path: string, described: boolean): CircuitBreaker {
    if (this.whole) return this.whole;
    const method = described ? path.slice(1) : UNDESCRIBED_METHODS;
    let breaker = this.byMethod.get(method);
    if (!breaker) {
      breaker = new CircuitBreaker(this.config, (state) => this.onMethodChange(method, state));
      this.byMethod.set(method, breaker);
      this.listener.methodChanged(method, "closed");
    }
    return breaker;
  }

  private onMethodChange(method: string, state: BreakerState): void {
    this.listener.methodChanged(method, state);
    let worst: BreakerState = "closed";
    for (const breaker of this.byMethod.values()) if (SEVERITY[breaker.state] > SEVERITY[worst]) worst = breaker.state;
    this.summarize(worst);
  }

  private summarize(state: BreakerState): void {
    if (state === this.summary) return;
    this.summary = state;
    this.listener.upstreamChanged(state);
  }
}
