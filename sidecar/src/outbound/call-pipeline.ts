import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { MethodPolicy } from "../config/policy.ts";
import type { Idempotency } from "../descriptors/method-catalog.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status, statusName } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { type AttemptListener, type AttemptResult, startAttempt } from "../proxy/attempt.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import { type DownstreamCall, trailersOnlyFrom } from "../proxy/downstream-call.ts";
import type { GrpcRequest } from "../proxy/grpc-request.ts";
import { aimRequest, callerTraceparent, setTraceparent } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import type { BulkheadWaiter } from "../resilience/bulkhead.ts";
import { chooseFault, type InjectedFault } from "../resilience/fault-injection.ts";
import { backoffSchedule, retryReason } from "../resilience/retry.ts";
import type { CallTracer, Span } from "../tracing/call-tracer.ts";
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
  stats: RouteStats;
}

export interface PipelineDeps {
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  log: Logger;
  /** Present when the sidecar traces: forwarded requests then carry a traceparent slot. */
  tracer?: CallTracer;
}

/** What the call is waiting for when nothing upstream is in flight: a timer or a slot in the bulkhead. */
type Waiting = "nothing" | "fault-delay" | "bulkhead" | "backoff";

function afterFaultDelay(run: OutboundRun): void {
  run.afterFaultDelay();
}

function afterBackoff(run: OutboundRun): void {
  run.afterBackoff();
}

/**
 * The outbound call path, as a state machine rather than a chain of promises (this runs for every call): deadline,
 * fault injection, bulkhead, then attempts, each through the circuit breaker to an endpoint picked by the balancer,
 * retried by the retry rules within the budget; then the answer and the call's statistics.
 */
export class OutboundRun implements BulkheadWaiter, AttemptListener {
  private readonly started = performance.now();
  private readonly deadline: Deadline;
  private readonly deadlineTimer: NodeJS.Timeout;
  private fault: InjectedFault | undefined;
  private waiting: Waiting = "nothing";
  private waitTimer: NodeJS.Timeout | undefined;
  private holdsSlot = false;
  private attempt = 0;
  private endpoint: Endpoint | undefined;
  // Made on the first retry: most calls take one attempt.
  private tried: Set<Endpoint> | undefined;
  private backoff: { next(): number } | undefined;
  private span: Span | undefined;
  private attemptSpan: Span | undefined;
  private retryReason: string | undefined;
  private queuedAt = 0;
  private done = false;

  constructor(
    private readonly outbound: OutboundCall,
    private readonly deps: PipelineDeps,
  ) {
    const { call, cluster, policy, request } = outbound;
    deps.inFlight.enter();
    outbound.stats.started();
    if (deps.tracer) {
      this.span = deps.tracer.startCall("client", request, callerTraceparent(outbound.headers), cluster.name);
    }
    this.deadline = new Deadline(request.timeoutMs, policy.timeoutMs);
    this.deadlineTimer = enforceDeadline(call, this.deadline, `upstream ${cluster.name}`);
  }

  start(): void {
    try {
      const { cluster, policy, request } = this.outbound;
      this.fault = chooseFault(policy.faults);
      if (!this.fault?.delayMs) {
        this.afterFaultDelay();
        return;
      }
      this.deps.metrics.faultInjected(cluster.name, request.method, "delay");
      this.span?.addEvent("fault.injected", { "mesh.fault": "delay", "mesh.fault.delay_ms": this.fault.delayMs });
      this.wait("fault-delay", setTimeout(afterFaultDelay, this.fault.delayMs, this));
    } catch (error) {
      this.crashed(error);
    }
  }

  afterFaultDelay(): void {
    this.stopWaiting();
    if (this.done) return;
    const { call, cluster, request } = this.outbound;
    const abort = this.fault?.abort;
    if (abort) {
      this.deps.metrics.faultInjected(cluster.name, request.method, "abort");
      const message = `${abort.message} (fault injected for upstream ${cluster.name})`;
      this.span?.addEvent("fault.injected", { "mesh.fault": "abort" });
      call.fail(abort.code, message);
      this.end(abort.code, message);
      return;
    }
    const { bulkhead } = cluster;
    if (bulkhead.tryEnter()) {
      this.admitted();
      return;
    }
    if (bulkhead.enqueue(this)) {
      if (this.span) {
        this.span.addEvent("bulkhead.queued");
        this.queuedAt = performance.now();
      }
      this.wait("bulkhead");
      return;
    }
    this.deps.metrics.bulkheadRejected("outbound", cluster.name);
    const { maxConcurrent, maxQueue } = bulkhead.config;
    const message = `upstream ${cluster.name}: too many concurrent calls (bulkhead: ${maxConcurrent} in flight and ${maxQueue} queued)`;
    call.fail(Status.RESOURCE_EXHAUSTED, message);
    this.end(Status.RESOURCE_EXHAUSTED, message);
  }

  /** A slot in the upstream's bulkhead is ours. */
  admitted(): void {
    this.stopWaiting();
    if (this.queuedAt) this.span?.setAttribute("mesh.bulkhead.queue_ms", performance.now() - this.queuedAt);
    this.holdsSlot = true;
    this.outbound.cluster.budget.recordRequest();
    this.nextAttemptSafely();
  }

  afterBackoff(): void {
    this.stopWaiting();
    if (this.done) return;
    this.nextAttemptSafely();
  }

  private nextAttemptSafely(): void {
    try {
      this.nextAttempt();
    } catch (error) {
      this.crashed(error);
    }
  }

  /** A bug, not an upstream's failure: the caller gets INTERNAL with the reason, and the sidecar carries on. */
  private crashed(error: unknown): void {
    const { call, cluster, request } = this.outbound;
    this.deps.log.error({ err: error, path: request.path }, "call failed unexpectedly");
    const message = `sidecar error calling upstream ${cluster.name}: ${(error as Error).message}`;
    call.fail(Status.INTERNAL, message);
    this.end(Status.INTERNAL, message);
  }

  /** The caller went away, or the deadline passed (its timer answered the caller), while the call waited. */
  callAbandoned(): void {
    const waiting = this.waiting;
    if (waiting === "bulkhead" && !this.outbound.cluster.bulkhead.withdraw(this)) return;
    this.stopWaiting();
    if (waiting !== "nothing") this.end(this.abandonedCode());
  }

  private nextAttempt(): void {
    const { call, cluster } = this.outbound;
    const attempt = ++this.attempt;
    const endpoint = cluster.pick(this.tried);
    if (!endpoint) {
      this.answer(unavailable(`upstream ${cluster.name}: no endpoints available`));
      return;
    }
    if (!cluster.breaker.tryPass()) {
      this.deps.metrics.breakerRejected(cluster.name);
      this.span?.addEvent("breaker.rejected", { "mesh.attempt": attempt });
      this.answer(unavailable(`upstream ${cluster.name}: circuit breaker open, failing fast`));
      return;
    }
    this.endpoint = endpoint;
    endpoint.outstanding++;
    if (this.span) this.traceAttempt(this.span, attempt, endpoint.address);
    startAttempt(
      {
        call,
        connection: this.deps.pool.get(endpoint.address, cluster.name),
        headers: aimRequest(this.outbound.headers, endpoint.address, formatGrpcTimeout(this.deadline.remainingMs())),
        target: `${cluster.name} (${endpoint.address})`,
        attempts: attempt,
        holdResponseBytes: this.outbound.holdResponseBytes,
      },
      this,
    );
  }

  attemptDone(result: AttemptResult): void {
    const { call, cluster, policy, request } = this.outbound;
    const endpoint = this.endpoint as Endpoint;
    endpoint.outstanding--;
    if (this.attemptSpan) {
      this.deps.tracer?.end(this.attemptSpan, result.cancelled ? Status.CANCELLED : result.code, result.message);
      this.attemptSpan = undefined;
    }
    cluster.breaker.record(result);
    cluster.record(endpoint, result);
    const reason = retryReason(result, {
      policy: policy.retry,
      idempotency: this.outbound.idempotency,
      attempts: this.attempt,
      canReplay: call.canReplay,
    });
    if (!reason || this.deadline.expired()) {
      this.answer(result);
      return;
    }
    if (!cluster.budget.tryAcquireRetry()) {
      this.deps.metrics.retryBudgetExhausted(cluster.name);
      this.answer(result);
      return;
    }
    this.deps.metrics.retried(cluster.name, request.method, reason);
    this.tried ??= new Set();
    this.tried.add(endpoint);
    this.backoff ??= backoffSchedule(policy.retry);
    const backoffMs = this.backoff.next();
    if (this.span) {
      // In a trace the status itself says more than the metric's label ("status").
      this.retryReason = reason === "status" ? statusName(result.code) : reason;
      this.span.addEvent("retry.backoff", { "mesh.retry_reason": this.retryReason, "mesh.backoff_ms": backoffMs });
    }
    this.wait("backoff", setTimeout(afterBackoff, backoffMs, this));
  }

  /** Gives the caller the final answer of a call that did not commit: the upstream's own, or the proxy's. */
  private answer(result: AttemptResult): void {
    const { call } = this.outbound;
    if (result.cancelled) {
      this.end(this.abandonedCode());
      return;
    }
    if (!result.committed) {
      if (result.uncommittedResponse)
        call.respondTrailersOnly(trailersOnlyFrom(result.uncommittedResponse, this.attempt));
      else call.fail(result.code, result.message, this.attempt);
    }
    this.end(result.code, result.message);
  }

  /** Opens the attempt's span under the call's and makes it the upstream's parent. */
  private traceAttempt(call: Span, attempt: number, endpoint: string): void {
    const tracer = this.deps.tracer as CallTracer;
    const span = tracer.startAttempt(call, this.outbound.request, attempt, endpoint, this.retryReason);
    setTraceparent(this.outbound.headers, tracer.traceparent(span));
    this.attemptSpan = span;
  }

  private abandonedCode(): number {
    return this.outbound.call.callerCancelled ? Status.CANCELLED : Status.DEADLINE_EXCEEDED;
  }

  private wait(what: Waiting, timer?: NodeJS.Timeout): void {
    this.waiting = what;
    this.waitTimer = timer;
    const { call } = this.outbound;
    call.watch(this);
    if (call.abandoned) this.callAbandoned();
  }

  private stopWaiting(): void {
    if (this.waiting === "nothing") return;
    this.waiting = "nothing";
    clearTimeout(this.waitTimer);
    this.outbound.call.watch(undefined);
  }

  private end(code: number, message?: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadlineTimer);
    if (this.holdsSlot) this.outbound.cluster.bulkhead.leave();
    this.outbound.stats.finished(code, (performance.now() - this.started) / 1000);
    if (this.span) this.traceEnd(this.span, code, message);
    this.deps.inFlight.leave();
  }

  private traceEnd(span: Span, code: number, message: string | undefined): void {
    span.setAttribute("mesh.attempts", this.attempt);
    if (code === Status.DEADLINE_EXCEEDED) span.addEvent("deadline.exceeded");
    this.deps.tracer?.end(span, code, message);
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
