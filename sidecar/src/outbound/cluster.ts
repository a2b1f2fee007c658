import type { MeshMetrics } from "../admin/metrics.ts";
import type { UpstreamPolicy } from "../config/policy.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { statusName } from "../grpc/status.ts";
import { Bulkhead } from "../resilience/bulkhead.ts";
import { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { newOutlierState, OutlierDetector, type OutlierState } from "../resilience/outlier-detection.ts";
import { RetryBudget } from "../resilience/retry-budget.ts";
import { pickPowerOfTwo } from "./load-balancer.ts";

/** One instance of an upstream: the address of its sidecar's inbound listener. */
export class Endpoint {
  outstanding = 0;
  readonly outlier: OutlierState = newOutlierState();
  constructor(readonly address: string) {}
}

/** An upstream with its endpoints and the policies its calls share: breaker, bulkhead, budget, outlier detection. */
export class Cluster {
  private endpointList: Endpoint[] = [];
  readonly breaker: CircuitBreaker;
  readonly bulkhead: Bulkhead;
  readonly budget: RetryBudget;
  private readonly outliers: OutlierDetector;
  private readonly failOn: ReadonlySet<string>;

  constructor(
    readonly name: string,
    readonly policy: UpstreamPolicy,
    private readonly metrics: MeshMetrics,
  ) {
    this.breaker = new CircuitBreaker(policy.circuitBreaker, (state) => metrics.breakerChanged(name, state));
    metrics.breakerChanged(name, "closed");
    this.bulkhead = new Bulkhead(policy.bulkhead);
    this.budget = new RetryBudget(policy.retryBudget);
    this.outliers = new OutlierDetector(policy.outlierDetection);
    this.failOn = new Set(policy.circuitBreaker.failOn);
  }

  get endpoints(): readonly Endpoint[] {
    return this.endpointList;
  }

  /** Replaces the endpoint set, keeping the state (in-flight counts, ejections) of endpoints that stay. */
  setEndpoints(addresses: readonly string[]): void {
    const current = new Map(this.endpointList.map((endpoint) => [endpoint.address, endpoint]));
    this.endpointList = [...new Set(addresses)].map((address) => current.get(address) ?? new Endpoint(address));
  }

  isEjected(endpoint: Endpoint): boolean {
    return this.outliers.isEjected(endpoint.outlier);
  }

  /**
   * Picks an endpoint for an attempt: not ejected and not tried yet by this call when possible; when every endpoint
   * is ejected, all are candidates again (ejection must never empty an upstream).
   */
  pick(tried?: ReadonlySet<Endpoint>): Endpoint | undefined {
    if (tried === undefined && !this.anyEjected()) return pickPowerOfTwo(this.endpointList);
    const healthy = this.endpointList.filter((endpoint) => !this.isEjected(endpoint));
    const pool = healthy.length > 0 ? healthy : this.endpointList;
    const fresh = tried ? pool.filter((endpoint) => !tried.has(endpoint)) : pool;
    return pickPowerOfTwo(fresh.length > 0 ? fresh : pool);
  }

  private anyEjected(): boolean {
    for (const endpoint of this.endpointList) if (this.isEjected(endpoint)) return true;
    return false;
  }

  /** Feeds an attempt's outcome to outlier detection. */
  record(endpoint: Endpoint, outcome: AttemptOutcome): void {
    if (outcome.cancelled) return;
    const failed = outcome.transportFailure || this.failOn.has(statusName(outcome.code));
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
}
