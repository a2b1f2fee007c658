import type { MeshMetrics } from "../admin/metrics.ts";
import type { UpstreamPolicy } from "../config/policy.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { statusName } from "../grpc/status.ts";
import { Bulkhead } from "../resilience/bulkhead.ts";
import { UpstreamBreakers } from "../resilience/circuit-breaker.ts";
import { newOutlierState, OutlierDetector, type OutlierState } from "../resilience/outlier-detection.ts";
import { RetryBudget } from "../resilience/retry-budget.ts";
import { LatencyEwma } from "./latency-ewma.ts";
import { pickPeakEwma, pickPowerOfTwo } from "./load-balancer.ts";

/** One instance of an upstream: the address of its sidecar's inbound listener. */
export class Endpoint {
  outstanding = 0;
  readonly outlier: OutlierState = newOutlierState();
  readonly latency: LatencyEwma;
  constructor(
    readonly address: string,
    latencyDecayMs: number,
  ) {
    this.latency = new LatencyEwma(latencyDecayMs);
  }
}

/**
 * An upstream with its endpoints and the policies its calls share: breakers (one per method, or one for the
 * upstream), bulkhead, budget, outlier detection.
 */
export class Cluster {
  private endpointList: Endpoint[] = [];
  readonly breakers: UpstreamBreakers;
  readonly bulkhead: Bulkhead;
  readonly budget: RetryBudget;
  private readonly outliers: OutlierDetector;
  private readonly failOn: ReadonlySet<string>;
  private readonly byLatency: boolean;

  /** `now` is the clock attempt durations are measured on; `random` draws the balancer's candidates. */
  constructor(
    readonly name: string,
    readonly policy: UpstreamPolicy,
    private readonly metrics: MeshMetrics,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.breakers = new UpstreamBreakers(policy.circuitBreaker, {
      upstreamChanged: (state) => metrics.breakerChanged(name, state),
      methodChanged: (method, state) => metrics.methodBreakerChanged(name, method, state),
    });
    metrics.breakerChanged(name, "closed");
    this.bulkhead = new Bulkhead(policy.bulkhead);
    this.budget = new RetryBudget(policy.retryBudget);
    this.outliers = new OutlierDetector(policy.outlierDetection);
    this.failOn = new Set(policy.circuitBreaker.failOn);
    this.byLatency = policy.loadBalancer.policy === "ewma";
  }

  get endpoints(): readonly Endpoint[] {
    return this.endpointList;
  }

  /** Replaces the endpoint set, keeping the state (in-flight counts, ejections, latency) of endpoints that stay. */
  setEndpoints(addresses: readonly string[]): void {
    const current = new Map(this.endpointList.map((endpoint) => [endpoint.address, endpoint]));
    this.endpointList = [...new Set(addresses)].map(
      (address) => current.get(address) ?? new Endpoint(address, this.policy.loadBalancer.decayMs),
    );
  }

  isEjected(endpoint: Endpoint): boolean {
    return this.outliers.isEjected(endpoint.outlier);
  }

  /** The endpoint's latency estimate now, as the balancer sees it (0 until its first answer). */
  latencyEwmaMs(endpoint: Endpoint): number {
    return endpoint.latency.estimate(this.now());
  }

  /**
   * Picks an endpoint for an attempt: not ejected and not tried yet by this call when possible; when every endpoint
   * is ejected, all are candidates again (ejection must never empty an upstream).
   */
  pick(tried?: ReadonlySet<Endpoint>): Endpoint | undefined {
    if (tried === undefined && !this.anyEjected()) return this.balance(this.endpointList);
    const healthy = this.endpointList.filter((endpoint) => !this.isEjected(endpoint));
    const pool = healthy.length > 0 ? healthy : this.endpointList;
    const fresh = tried ? pool.filter((endpoint) => !tried.has(endpoint)) : pool;
    return this.balance(fresh.length > 0 ? fresh : pool);
  }

  private balance(candidates: readonly Endpoint[]): Endpoint | undefined {
    return this.byLatency ? pickPeakEwma(candidates, this.now, this.random) : pickPowerOfTwo(candidates, this.random);
  }

  private anyEjected(): boolean {
    for (const endpoint of this.endpointList) if (this.isEjected(endpoint)) return true;
    return false;
  }

  /**
   * Feeds an attempt to the endpoint's latency estimate and to outlier detection. `elapsedMs` is the attempt's
   * duration on the cluster's clock (performance.now). Outlier detection ignores attempts the proxy cancelled.
   */
  record(endpoint: Endpoint, outcome: AttemptOutcome, elapsedMs: number): void {
    const failed = !outcome.cancelled && (outcome.transportFailure || this.failOn.has(statusName(outcome.code)));
    this.observeLatency(endpoint, elapsedMs, failed);
    if (outcome.cancelled) return;
    if (!failed) {
      this.outliers.recordSuccess(endpoint.outlier);
    } else if (
      this.outliers.recordFailure(
        endpoint.outlier,
        this.endpointList.map((each) => each.outlier),
      )
    ) {
      this.metrics.ejected(this.name, endpoint.address);
    }
  }

  /**
   * A cancelled attempt is a sample too: a per-try timeout or a lost hedge is what a slow endpoint looks like. A
   * failure counts only when it is slower than the estimate: an endpoint that fails fast must not look fast and draw
   * traffic to itself.
   */
  private observeLatency(endpoint: Endpoint, elapsedMs: number, failed: boolean): void {
    const now = this.now();
    if (!failed || elapsedMs > endpoint.latency.estimate(now)) endpoint.latency.observe(elapsedMs, now);
  }
}
