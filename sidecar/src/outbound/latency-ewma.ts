/**
 * Peak-EWMA of an endpoint's attempt latency, the estimate Finagle and Linkerd balance on. A sample slower than the
 * estimate replaces it at once (a slowdown is believed immediately); a faster one pulls it down with a time-based
 * weight, so a sample decayMs old keeps 1/e of its weight whatever the call rate. Between samples the estimate reads
 * as if a zero-latency sample arrived now: an endpoint the balancer left idle for being slow looks cheaper as time
 * passes and is tried again, which is how a recovered endpoint wins its traffic back. It starts at 0 (unmeasured).
 */
export class LatencyEwma {
  private valueMs = 0;
  private at = 0;

  constructor(private readonly decayMs: number) {}

  /** The estimate at `now` (ms on the clock samples are taken on). */
  estimate(now: number): number {
    return this.valueMs * this.keptWeight(now);
  }

  observe(sampleMs: number, now: number): void {
    if (sampleMs >= this.valueMs) {
      this.valueMs = sampleMs;
    } else {
      const kept = this.keptWeight(now);
      this.valueMs = this.valueMs * kept + sampleMs * (1 - kept);
    }
    this.at = now;
  }

  /** The weight the last value keeps after the time since it was set. */
  private keptWeight(now: number): number {
    return Math.exp(-Math.max(now - this.at, 0) / this.decayMs);
  }
}
