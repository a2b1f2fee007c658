import { setTimeout as sleep } from "node:timers/promises";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { MethodPolicy } from "../config/policy.ts";
import type { Idempotency } from "../descriptors/method-catalog.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { type AttemptResult, runAttempt } from "../proxy/attempt.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import { type DownstreamCall, trailersOnlyFrom } from "../proxy/downstream-call.ts";
import type { GrpcRequest } from "../proxy/grpc-request.ts";
import { aimRequest } from "../proxy/headers.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import { BulkheadFullError } from "../resilience/bulkhead.ts";
import { CircuitOpenError } from "../resilience/circuit-breaker.ts";
import { chooseFault } from "../resilience/fault-injection.ts";
import { backoffSchedule, retryReason } from "../resilience/retry.ts";
import type { Cluster, Endpoint } from "./cluster.ts";

export interface OutboundCall {
  call: DownstreamCall;
  request: GrpcRequest;
  /** The request headers to send upstream (see forwardedRequest): each attempt aims them at its endpoint. */
  headers: HeaderList;
  cluster: Cluster;
  policy: MethodPolicy;
  idempotency: Idempotency;
  /** Response bytes held until complete, so a retry stays possible (0 for streaming or unknown methods). */
  holdResponseBytes: number;
}

export interface PipelineDeps {
  pool: SessionPool;
  metrics: MeshMetrics;
}

/**
 * The outbound call path: deadline, fault injection, bulkhead, then attempts, each through the circuit breaker to
 * an endpoint picked by the balancer, retried by the retry rules within the budget. Resolves with the gRPC status
 * the caller got.
 */
export async function proxyOutbound(outbound: OutboundCall, deps: PipelineDeps): Promise<number> {
  const { call, cluster, policy, request } = outbound;
  const deadline = new Deadline(request.timeoutMs, policy.timeoutMs);
  const deadlineTimer = enforceDeadline(call, deadline, `upstream ${cluster.name}`);
  try {
    const fault = chooseFault(policy.faults);
    if (fault?.delayMs) {
      deps.metrics.faultInjected(cluster.name, request.method, "delay");
      await sleep(fault.delayMs, undefined, { signal: call.signal });
    }
    if (fault?.abort) {
      deps.metrics.faultInjected(cluster.name, request.method, "abort");
      call.fail(fault.abort.code, `${fault.abort.message} (fault injected for upstream ${cluster.name})`);
      return fault.abort.code;
    }
    const result = await cluster.bulkhead.run(() => attemptUntilDone(outbound, deadline, deps), call);
    return result.code;
  } catch (error) {
    return failure(outbound, error, call.abandoned, deps);
  } finally {
    clearTimeout(deadlineTimer);
  }
}

function failure({ call, cluster }: OutboundCall, error: unknown, aborted: boolean, deps: PipelineDeps): number {
  if (error instanceof BulkheadFullError) {
    deps.metrics.bulkheadRejected("outbound", cluster.name);
    const { maxConcurrent, maxQueue } = cluster.bulkhead.config;
    const message = `upstream ${cluster.name}: too many concurrent calls (bulkhead: ${maxConcurrent} in flight and ${maxQueue} queued)`;
    call.fail(Status.RESOURCE_EXHAUSTED, message);
    return Status.RESOURCE_EXHAUSTED;
  }
  if (!aborted) {
    call.fail(Status.INTERNAL, `sidecar error calling upstream ${cluster.name}: ${(error as Error).message}`);
    return Status.INTERNAL;
  }
  // The deadline passed (the deadline timer has answered) or the caller cancelled while waiting.
  return call.callerCancelled ? Status.CANCELLED : Status.DEADLINE_EXCEEDED;
}

async function attemptUntilDone(
  outbound: OutboundCall,
  deadline: Deadline,
  deps: PipelineDeps,
): Promise<AttemptResult> {
  const { call, cluster, policy, request } = outbound;
  cluster.budget.recordRequest();
  // Made on the first retry: most calls take one attempt.
  let tried: Set<Endpoint> | undefined;
  let backoff: { next(): number } | undefined;
  for (let attempt = 1; ; attempt++) {
    const endpoint = cluster.pick(tried);
    if (!endpoint) return answer(call, unavailable(`upstream ${cluster.name}: no endpoints available`), attempt);
    let result: AttemptResult;
    try {
      result = await cluster.breaker.run(() => attemptOn(outbound, endpoint, attempt, deadline, deps));
    } catch (error) {
      if (!(error instanceof CircuitOpenError)) throw error;
      deps.metrics.breakerRejected(cluster.name);
      return answer(call, unavailable(`upstream ${cluster.name}: circuit breaker open, failing fast`), attempt);
    }
    cluster.record(endpoint, result);
    const reason = retryReason(result, {
      policy: policy.retry,
      idempotency: outbound.idempotency,
      attempts: attempt,
      canReplay: call.canReplay,
    });
    if (!reason || deadline.expired()) return answer(call, result, attempt);
    if (!cluster.budget.tryAcquireRetry()) {
      deps.metrics.retryBudgetExhausted(cluster.name);
      return answer(call, result, attempt);
    }
    deps.metrics.retried(cluster.name, request.method, reason);
    tried ??= new Set();
    tried.add(endpoint);
    backoff ??= backoffSchedule(policy.retry);
    await sleep(backoff.next(), undefined, { signal: call.signal });
  }
}

async function attemptOn(
  { call, cluster, headers, holdResponseBytes }: OutboundCall,
  endpoint: Endpoint,
  attempt: number,
  deadline: Deadline,
  deps: PipelineDeps,
): Promise<AttemptResult> {
  endpoint.outstanding++;
  try {
    return await runAttempt({
      call,
      connection: deps.pool.get(endpoint.address, cluster.name),
      headers: aimRequest(headers, endpoint.address, formatGrpcTimeout(deadline.remainingMs())),
      target: `${cluster.name} (${endpoint.address})`,
      attempts: attempt,
      holdResponseBytes,
    });
  } finally {
    endpoint.outstanding--;
  }
}

function unavailable(message: string): AttemptResult {
  return {
    code: Status.UNAVAILABLE,
    message,
    committed: false,
    neverProcessed: false,
    transportFailure: false,
    cancelled: false,
  };
}

/** Gives the caller the final answer of a call that did not commit: the upstream's own, or the proxy's. */
function answer(call: DownstreamCall, result: AttemptResult, attempts: number): AttemptResult {
  if (result.committed || result.cancelled) return result;
  if (result.uncommittedResponse) call.respondTrailersOnly(trailersOnlyFrom(result.uncommittedResponse, attempts));
  else call.fail(result.code, result.message, attempts);
  return result;
}
