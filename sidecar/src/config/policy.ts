import type {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  Defaults,
  FaultPolicy,
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
}

/** What an upstream shares across its calls: defaults < upstream. */
export interface UpstreamPolicy {
  circuitBreaker: CircuitBreakerPolicy;
  bulkhead: BulkheadPolicy;
  outlierDetection: OutlierDetectionPolicy;
  retryBudget: RetryBudgetPolicy;
}

export function resolveUpstreamPolicy(defaults: Defaults, upstream: UpstreamConfig | undefined): UpstreamPolicy {
  return {
    circuitBreaker: { ...defaults.circuitBreaker, ...upstream?.circuitBreaker },
    bulkhead: { ...defaults.bulkhead, ...upstream?.bulkhead },
    outlierDetection: { ...defaults.outlierDetection, ...upstream?.outlierDetection },
    retryBudget: { ...defaults.retryBudget, ...upstream?.retryBudget },
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
  };
}
