import type { AdaptiveConcurrencyConfig } from "../config/schema.ts";

/** Weight of a new estimate against the current limit: the limit moves half way there each interval. */
const SMOOTHING = 0.5;
/** An interval with fewer calls than this says too little about the app's latency: it is extended instead. */
const MIN_SAMPLES = 5;
/**
 * Intervals spent at minLimit before the baseline is measured again: by then the calls admitted under a higher
 * limit have finished, so the interval's latency is the app's at the least concurrency the limiter allows.
 */
const REMEASURE_AFTER = 2;

/**
 * A gradient concurrency limiter (Netflix concurrency-limits' Gradient2, Envoy's adaptive concurrency filter): the
 * limit shrinks by the ratio of the app's no-load latency (the baseline) to its recent latency once that ratio
 * passes the tolerance, and grows by a headroom of sqrt(limit) while it does not.
 *
 * The baseline is the best interval average seen; it follows an app that got slower because a baseline that is too
 * low drives the limit down to minLimit, where the latency is measured afresh. Pure: callers pass the time.
 */
export class AdaptiveConcurrency {
  private estimate: number;
  private readonly lowest: number;
  private baseline = Number.POSITIVE_INFINITY;
  private recent = Number.NaN;
  private windowStart = Number.NaN;
  private sum = 0;
  private count = 0;
  private maxInFlight = 0;
  private intervalsAtMin = 0;

  constructor(
    private readonly config: AdaptiveConcurrencyConfig,
    /** The hard upper bound (inbound.maxConcurrent). */
    private readonly maxLimit: number,
  ) {
    this.lowest = Math.min(config.minLimit, maxLimit);
    this.estimate = this.clamp(config.initialLimit);
  }

  /** Calls allowed in flight now. */
  get limit(): number {
    return Math.floor(this.estimate);
  }

  /** The app's latency without load, in ms (undefined before the first interval). */
  get baselineMs(): number | undefined {
    return Number.isFinite(this.baseline) ? this.baseline : undefined;
  }

  /** The app's average latency over the last interval, in ms. */
  get recentMs(): number | undefined {
    return Number.isNaN(this.recent) ? undefined : this.recent;
  }

  /**
   * One call's latency at the app, with the calls in flight when it ended (this one included) and the time now (ms,
   * monotonic). True when the limit changed.
   */
  sample(latencyMs: number, inFlight: number, now: number): boolean {
    if (Number.isNaN(this.windowStart)) this.windowStart = now;
    this.sum += latencyMs;
    this.count++;
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight;
    if (now - this.windowStart < this.config.intervalMs || this.count < MIN_SAMPLES) return false;
    const before = this.limit;
    this.update(this.sum / this.count);
    this.windowStart = now;
    this.sum = 0;
    this.count = 0;
    this.maxInFlight = 0;
    return this.limit !== before;
  }

  private update(recent: number): void {
    this.recent = recent;
    if (this.intervalsAtMin >= REMEASURE_AFTER) {
      this.baseline = recent;
      this.intervalsAtMin = 0;
    } else if (recent < this.baseline) {
      this.baseline = recent;
    }
    const gradient = Math.min(1, (this.config.tolerance * this.baseline) / recent);
    const target = this.estimate * gradient + Math.sqrt(this.estimate);
    const next = this.estimate * (1 - SMOOTHING) + target * SMOOTHING;
    // A limit the calls never came near was not tested: growing it would let a burst through unchecked.
    if (next < this.estimate || this.maxInFlight * 2 >= this.estimate) this.estimate = this.clamp(next);
    this.intervalsAtMin = this.limit <= this.lowest ? this.intervalsAtMin + 1 : 0;
  }

  private clamp(limit: number): number {
    return Math.max(this.lowest, Math.min(this.maxLimit, limit));
  }
}
