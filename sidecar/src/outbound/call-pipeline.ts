import type { Logger } from "pino";
import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { MethodPolicy } from "../config/policy.ts";
import type { HedgingPolicy } from "../config/schema.ts";
import type { Idempotency } from "../descriptors/method-catalog.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status, statusName } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { type AttemptHandle, type AttemptListener, type AttemptResult, startAttempt } from "../proxy/attempt.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import type { DownstreamCall } from "../proxy/downstream-call.ts";
import type { GrpcRequest } from "../proxy/grpc-request.ts";
import { aimRequest, callerTraceparent, setTraceparent } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import type { BulkheadWaiter } from "../resilience/bulkhead.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { chooseFault, type InjectedFault } from "../resilience/fault-injection.ts";
import type { LatencyWindow } from "../resilience/latency-window.ts";
import { backoffSchedule, type RetryReason, retryReason } from "../resilience/retry.ts";
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
  /** The route's recent attempt latencies, for a hedging delay given as a percentile. */
  latency: LatencyWindow;
  /** The breaker the method's attempts pass through (the upstream's, or the method's own). */
  breaker: CircuitBreaker;
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

function hedgeDue(run: OutboundRun): void {
  run.hedgeDue();
}

function perTryExpired(slot: AttemptSlot): void {
  slot.expire();
}

/** One attempt in flight: where it went and when, its span, and its per-try timer. */
class AttemptSlot implements AttemptListener {
  handle: AttemptHandle | undefined;
  perTryTimer: NodeJS.Timeout | undefined;
  /** The per-try timeout cancelled it. */
  timedOut = false;
  /** Cancelled because another (hedged) attempt's response went to the caller. */
  superseded = false;
  done = false;
  readonly startedAt = performance.now();

  constructor(
    private readonly run: OutboundRun,
    readonly endpoint: Endpoint,
    readonly number: number,
    readonly span: Span | undefined,
  ) {}

  attemptDone(result: AttemptResult): void {
    this.run.slotDone(this, result);
  }

  attemptCommitted(): void {
    this.run.slotCommitted(this);
  }

  /** No answer within the per-try timeout: cancel it upstream, unless its response is already going out. */
  expire(): void {
    if (this.done || this.run.committed) return;
    this.timedOut = true;
    this.handle?.abandon();
  }

  cancel(superseded: boolean): void {
    clearTimeout(this.perTryTimer);
    this.superseded = superseded;
    this.handle?.abandon();
  }
}

/**
 * The outbound call path, as a state machine rather than a chain of promises (this runs for every call): deadline,
 * fault injection, bulkhead, then attempts, each through the circuit breaker to an endpoint picked by the balancer,
 * bounded by the per-try timeout, hedged (NO_SIDE_EFFECTS methods) or retried by the retry rules within the budget;
 * then the answer and the call's statistics.
 */
export class OutboundRun implements BulkheadWaiter {
  private readonly started = performance.now();
  private readonly deadline: Deadline;
  private readonly deadlineTimer: NodeJS.Timeout;
  private fault: InjectedFault | undefined;
  private waiting: Waiting = "nothing";
  private waitTimer: NodeJS.Timeout | undefined;
  private holdsSlot = false;
  private attempt = 0;
  /** Attempts in flight: one, or several while hedging. */
  private readonly slots: AttemptSlot[] = [];
  // Made on the first retry or hedge: most calls take one attempt.
  private tried: Set<Endpoint> | undefined;
  private backoff: { next(): number } | undefined;
  /** The hedging policy, when the config asks for it and the method has no side effects. */
  private readonly hedging: HedgingPolicy | undefined;
  private hedgeTimer: NodeJS.Timeout | undefined;
  private span: Span | undefined;
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
    // Never for a method with side effects, whatever the config says: a hedge sends it twice.
    this.hedging = outbound.idempotency === "no_side_effects" ? policy.hedging : undefined;
  }

  /** The caller has response headers from one of the attempts. */
  get committed(): boolean {
    return this.outbound.call.committed;
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

  private nextAttemptSafely(hedge = false): void {
    try {
      this.nextAttempt(hedge);
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

  /**
   * The caller went away, or the deadline passed (its timer answered the caller), while the call waited, or while
   * hedged attempts ran (only the first is the call's current attempt, which the call cancels itself).
   */
  callAbandoned(): void {
    for (const slot of this.slots) slot.cancel(false);
    const waiting = this.waiting;
    if (waiting === "bulkhead" && !this.outbound.cluster.bulkhead.withdraw(this)) return;
    this.stopWaiting();
    if (waiting !== "nothing") this.end(this.abandonedCode());
  }

  private nextAttempt(hedge = false): void {
    const { call, cluster } = this.outbound;
    const attempt = ++this.attempt;
    const endpoint = cluster.pick(this.tried);
    if (!endpoint || (hedge && this.tried?.has(endpoint))) {
      if (hedge) this.attempt--;
      else this.answer(unavailable(`upstream ${cluster.name}: no endpoints available`));
      return;
    }
    if (!this.outbound.breaker.tryPass()) {
      this.deps.metrics.breakerRejected(cluster.name);
      this.span?.addEvent("breaker.rejected", { "mesh.attempt": attempt });
      if (hedge) this.attempt--;
      else this.answer(unavailable(`upstream ${cluster.name}: circuit breaker open, failing fast`));
      return;
    }
    endpoint.outstanding++;
    const slot = new AttemptSlot(this, endpoint, attempt, this.span && this.traceAttempt(this.span, attempt, endpoint));
    this.slots.push(slot);
    slot.handle = startAttempt(
      {
        call,
        connection: this.deps.pool.get(endpoint.address, cluster.name),
        headers: aimRequest(this.outbound.headers, endpoint.address, formatGrpcTimeout(this.deadline.remainingMs())),
        target: `${cluster.name} (${endpoint.address})`,
        attempts: attempt,
        holdResponseBytes: this.outbound.holdResponseBytes,
        hedge,
      },
      slot,
    );
    // The attempt may already have ended (a connection that is going away): then there is nothing to time.
    if (slot.done) return;
    if (this.anotherMayFollow(attempt)) {
      const perTryMs = this.outbound.policy.retry.perTryTimeoutMs;
      if (perTryMs > 0 && perTryMs < this.deadline.remainingMs()) {
        slot.perTryTimer = setTimeout(perTryExpired, perTryMs, slot);
      }
    }
    this.scheduleHedge();
  }

  /**
   * Whether a per-try timeout may cut this attempt short: only when another attempt could follow it (an idempotent
   * method with attempts left). Cutting the last one short would turn a slow answer (a database restarting) into a
   * failure that nothing can make good; the call's deadline bounds it instead.
   */
  private anotherMayFollow(attempt: number): boolean {
    return this.outbound.idempotency !== "unknown" && attempt < this.outbound.policy.retry.maxAttempts;
  }

  /** Arms the timer for the next hedge, when the method may hedge and attempts remain. */
  private scheduleHedge(): void {
    const hedging = this.hedging;
    if (!hedging || this.hedgeTimer || this.attempt >= hedging.maxAttempts) return;
    const delayMs = hedging.delayMs ?? this.outbound.latency.percentile(hedging.delayPercentile as number);
    if (delayMs === undefined) return;
    this.hedgeTimer = setTimeout(hedgeDue, delayMs, this);
  }

  /** No attempt has answered within the hedging delay: send another to another endpoint (gRFC A6). */
  hedgeDue(): void {
    this.hedgeTimer = undefined;
    const { call, cluster, request } = this.outbound;
    // A request still arriving cannot be given whole to a second attempt; the deadline may have passed meanwhile.
    if (this.done || call.committed || this.slots.length === 0 || !call.fullyBuffered || this.deadline.expired())
      return;
    if (!cluster.budget.tryAcquireRetry()) {
      this.deps.metrics.retryBudgetExhausted(cluster.name);
      return;
    }
    this.tried ??= new Set();
    for (const slot of this.slots) this.tried.add(slot.endpoint);
    this.deps.metrics.retried(cluster.name, request.method, "hedge");
    this.span?.addEvent("hedge", { "mesh.attempt": this.attempt + 1 });
    this.retryReason = "hedge";
    this.nextAttemptSafely(true);
    this.retryReason = undefined;
    // The call cancels only its current attempt when abandoned; the run cancels the hedges.
    if (this.slots.length > 1) call.watch(this);
  }

  /** An attempt's response is going to the caller: the others lose the race. */
  slotCommitted(winner: AttemptSlot): void {
    clearTimeout(this.hedgeTimer);
    this.hedgeTimer = undefined;
    clearTimeout(winner.perTryTimer);
    for (const slot of this.slots) if (slot !== winner) slot.cancel(true);
  }

  slotDone(slot: AttemptSlot, ended: AttemptResult): void {
    slot.done = true;
    clearTimeout(slot.perTryTimer);
    this.slots.splice(this.slots.indexOf(slot), 1);
    const { cluster, idempotency, policy } = this.outbound;
    const { endpoint } = slot;
    endpoint.outstanding--;
    const elapsedMs = performance.now() - slot.startedAt;
    const result = slot.timedOut ? perTryTimedOut(ended, slot, policy.retry.perTryTimeoutMs, cluster.name) : ended;
    this.outbound.breaker.record(result);
    cluster.record(endpoint, result, elapsedMs);
    if (!result.cancelled && !slot.timedOut) this.outbound.latency.record(elapsedMs);
    if (slot.span) this.traceAttemptEnd(slot, result);
    // A late loser of a hedge race, or an attempt the caller no longer waits for: nothing more to do.
    if (this.done || slot.superseded) return;
    if (result.committed) {
      this.answer(result);
      return;
    }
    if (this.slots.length > 0) {
      this.hedgeFailed(result);
      return;
    }
    clearTimeout(this.hedgeTimer);
    this.hedgeTimer = undefined;
    const reason = retryReason(result, {
      policy: policy.retry,
      idempotency,
      attempts: this.attempt,
      canReplay: this.outbound.call.canReplay,
    });
    if (!reason || this.deadline.expired()) {
      this.answer(result);
      return;
    }
    this.retry(result, reason, endpoint);
  }

  /**
   * One of several hedged attempts ended without an answer for the caller while others still run: as gRFC A6
   * says, a retryable failure sends the next hedge at once, any other status is the call's answer.
   */
  private hedgeFailed(result: AttemptResult): void {
    if (result.cancelled) return;
    const reason = retryReason(result, {
      policy: this.outbound.policy.retry,
      idempotency: this.outbound.idempotency,
      attempts: 0,
      canReplay: true,
    });
    if (!reason) {
      for (const slot of this.slots) slot.cancel(true);
      this.answer(result);
      return;
    }
    if (this.hedgeTimer) {
      clearTimeout(this.hedgeTimer);
      this.hedgeDue();
    }
  }

  private retry(result: AttemptResult, reason: RetryReason, endpoint: Endpoint): void {
    const { cluster, policy, request } = this.outbound;
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
    clearTimeout(this.hedgeTimer);
    this.hedgeTimer = undefined;
    if (result.cancelled) {
      this.end(this.abandonedCode());
      return;
    }
    if (!result.committed) {
      if (result.uncommittedResponse) call.relayAnswer(result.uncommittedResponse, this.attempt);
      else call.fail(result.code, result.message, this.attempt);
    }
    this.end(result.code, result.message);
  }

  /** Opens the attempt's span under the call's and makes it the upstream's parent. */
  private traceAttempt(call: Span, attempt: number, endpoint: Endpoint): Span {
    const tracer = this.deps.tracer as CallTracer;
    const span = tracer.startAttempt(call, this.outbound.request, attempt, endpoint.address, this.retryReason);
    setTraceparent(this.outbound.headers, tracer.traceparent(span));
    return span;
  }

  private traceAttemptEnd(slot: AttemptSlot, result: AttemptResult): void {
    const span = slot.span as Span;
    if (slot.timedOut) span.addEvent("per_try_timeout");
    if (slot.superseded) span.setAttribute("mesh.superseded", true);
    this.deps.tracer?.end(span, result.cancelled ? Status.CANCELLED : result.code, result.message);
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
    clearTimeout(this.hedgeTimer);
    // Hedges the call no longer waits for (the answer came from elsewhere, or the sidecar failed the call).
    for (const slot of this.slots) slot.cancel(false);
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

/** How an attempt cancelled by its per-try timeout ended, as the policies see it: the endpoint did not answer. */
function perTryTimedOut(ended: AttemptResult, slot: AttemptSlot, perTryMs: number, upstream: string): AttemptResult {
  return {
    code: Status.DEADLINE_EXCEEDED,
    message: `upstream ${upstream} (${slot.endpoint.address}): no answer within the per-try timeout of ${perTryMs} ms`,
    committed: ended.committed,
    neverProcessed: false,
    transportFailure: false,
    cancelled: false,
    timedOut: true,
  };
}
