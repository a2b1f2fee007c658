import type {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  Defaults,
  FaultPolicy,
  HedgingPolicy,
  LoadBalancerPolicy,
  OutlierDetectionPolicy,
  RetryBudgetPolicy,
  RetryPolicy,
  UpstreamConfig,
} from "./schema.ts";

/** What governs one call: defaults < upstream < method. */
export interface MethodPolicy {
  timeoutMs: number;
  retry: RetryPolicy;
  faults: FaultPolicy;
  /** Asked for by the method's or the upstream's config; the call path hedges only NO_SIDE_EFFECTS methods. */
  hedging: HedgingPolicy | undefined;
}

/** What an upstream shares across its calls: defaults < upstream. */
export interface UpstreamPolicy {
  circuitBreaker: CircuitBreakerPolicy;
  bulkhead: BulkheadPolicy;
  outlierDetection: OutlierDetectionPolicy;
  retryBudget: RetryBudgetPolicy;
  loadBalancer: LoadBalancerPolicy;
}

export function resolveUpstreamPolicy(defaults: Defaults, upstream: UpstreamConfig | undefined): UpstreamPolicy {
  return {
    circuitBreaker: { ...defaults.circuitBreaker, ...upstream?.circuitBreaker },
    bulkhead: { ...defaults.bulkhead, ...upstream?.bulkhead },
    outlierDetection: { ...defaults.outlierDetection, ...upstream?.outlierDetection },
    retryBudget: { ...defaults.retryBudget, ...upstream?.retryBudget },
    loadBalancer: { ...defaults.loadBalancer, ...upstream?.loadBalancer },
  };
}

/** The policy of `service/method` (e.g. `shop.inventory.v1.InventoryService`, `GetStock`). */
export function resolveMethodPolicy(
  defaults: Defaults,
  upstream: UpstreamConfig | undefined,
  service: string,
  method: string,
): MethodPolicy {
  const override = upstream?.methods[`${service}/${method}`] ?? upstream?.methods[method];
  return {
    timeoutMs: override?.timeoutMs ?? upstream?.timeoutMs ?? defaults.timeoutMs,
    retry: { ...defaults.retry, ...upstream?.retry, ...override?.retry },
    faults: { ...defaults.faults, ...upstream?.faults, ...override?.faults },
    hedging: override?.hedging ?? upstream?.hedging,
  };
}
