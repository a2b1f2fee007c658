/** Fewer samples than this say too little about a percentile: no hedging by percentile until then. */
const MIN_SAMPLES = 20;

/**
 * The latencies of a route's most recent attempts, for a hedging delay that follows them (`delayPercentile`, gRFC
 * A6's delay derived from observed latency). A ring of the last `size` samples; a percentile is sorted out again
 * only every `refreshEvery` samples, so it costs little per call.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;
  private cachedPercentile = -1;
  private cachedValue = 0;
  private sinceCached = 0;

  constructor(
    size = 256,
    private readonly refreshEvery = 32,
  ) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
    this.sinceCached++;
  }

  /** The `p`th percentile (0-100) of the recent samples in ms, or undefined while there are too few. */
  percentile(p: number): number | undefined {
    if (this.count < MIN_SAMPLES) return undefined;
    if (p !== this.cachedPercentile || this.sinceCached >= this.refreshEvery) {
      const sorted = this.samples.slice(0, this.count).sort();
      this.cachedValue = sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)] as number;
      this.cachedPercentile = p;
      this.sinceCached = 0;
    }
    return this.cachedValue;
  }
}
