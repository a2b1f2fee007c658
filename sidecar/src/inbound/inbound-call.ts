import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { type AttemptListener, type AttemptResult, startAttempt } from "../proxy/attempt.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import type { DownstreamCall } from "../proxy/downstream-call.ts";
import type { GrpcRequest } from "../proxy/grpc-request.ts";
import { aimRequest, callerTraceparent, setTraceparent, shedResponse } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import type { AdaptiveConcurrency } from "../resilience/adaptive-concurrency.ts";
import type { Bulkhead, BulkheadWaiter } from "../resilience/bulkhead.ts";
import type { CallTracer, Span } from "../tracing/call-tracer.ts";

export type InboundConfig = NonNullable<SidecarConfig["inbound"]>;

export interface InboundCallDeps {
  inbound: InboundConfig;
  /** The app's concurrency limit: fixed at inbound.maxConcurrent, or moved by `adaptive`. */
  limit: Bulkhead;
  /** Present when adaptive concurrency is on: follows the app's latency and sets `limit`. */
  adaptive?: AdaptiveConcurrency;
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  /** Present when the sidecar traces: the forwarded request then carries a traceparent slot. */
  tracer?: CallTracer;
}

export const APP = "app";

/**
 * What the calls to one method path share, resolved on its first call: their statistics, and the slots they take.
 * App calls take the app's concurrency limit (and may queue for it); health checks take slots of their own, never
 * queued, so that a busy app still answers them and they never take the app's slots (see HEALTH_WATCH_LIMIT).
 */
export interface InboundRoute {
  readonly stats: RouteStats;
  readonly slots: Bulkhead;
  /** What the health checks' slots hold, for the message of a refused one; undefined for app calls. */
  readonly health: string | undefined;
}

/**
 * Sets the bulkhead to the adaptive limit, with a queue of at most as many calls: a queued call then waits about
 * one app latency, rather than long enough to reach its deadline before the app sees it.
 */
export function applyAdaptiveLimit(limit: Bulkhead, adaptive: AdaptiveConcurrency, maxQueue: number): void {
  limit.setLimits(adaptive.limit, Math.min(maxQueue, adaptive.limit));
}

/**
 * One call from the mesh to the local app, as a state machine rather than a chain of promises (this runs for every
 * call): admitted by the app's concurrency limit, at once or in turn from its queue; one attempt at the app within
 * the caller's deadline; then the answer, and the call's statistics.
 */
export class InboundCall implements BulkheadWaiter, AttemptListener {
  private readonly started = performance.now();
  private readonly deadline: Deadline;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private span: Span | undefined;
  private done = false;
  /** When the app got the call (performance.now()), for the adaptive limit. */
  private admittedAt = 0;

  constructor(
    private readonly deps: InboundCallDeps,
    private readonly call: DownstreamCall,
    private readonly request: GrpcRequest,
    /** The request as forwarded (see forwardedRequest). */
    private readonly headers: HeaderList,
    private readonly route: InboundRoute,
  ) {
    this.deadline = new Deadline(request.timeoutMs, deps.inbound.timeoutMs);
  }

  start(): void {
    const { deps, call, route } = this;
    deps.inFlight.enter();
    route.stats.started();
    const { tracer } = deps;
    if (tracer) {
      this.span = tracer.startCall("server", this.request, callerTraceparent(this.headers));
      setTraceparent(this.headers, tracer.traceparent(this.span));
    }
    this.deadlineTimer = enforceDeadline(call, this.deadline, `the app at ${deps.inbound.app}`);
    if (route.slots.tryEnter()) {
      this.admitted();
    } else if (route.health !== undefined) {
      this.refuseHealthCheck(route.health);
    } else if (deps.limit.enqueue(this)) {
      this.span?.addEvent("bulkhead.queued");
      call.watch(this);
    } else {
      this.shed();
    }
  }

  /** Refuses the call at once, saying it never reached the app so that the caller's sidecar may send it elsewhere. */
  private shed(): void {
    const { metrics, limit, adaptive } = this.deps;
    metrics.bulkheadRejected("inbound", APP);
    metrics.inboundShed("concurrency_limit");
    const kind = adaptive ? "adaptive concurrency limit" : "concurrency limit";
    const message = `the app is at its ${kind} (${limit.limit} in flight and ${limit.queueLimit} queued)`;
    this.call.respondTrailersOnly(shedResponse("concurrency-limit", message));
    this.finish(Status.RESOURCE_EXHAUSTED, message);
  }

  /**
   * Refuses a health check beyond the health checks' own bound, saying so: not marked as shed, since its caller asked
   * about this instance (another's answer would not do).
   */
  private refuseHealthCheck(what: string): void {
    this.deps.metrics.inboundShed("health_limit");
    const message = `too many health checks at once: at most ${this.route.slots.limit} ${what} (health checks have slots of their own, apart from the app's concurrency limit)`;
    this.call.fail(Status.RESOURCE_EXHAUSTED, message);
    this.finish(Status.RESOURCE_EXHAUSTED, message);
  }

  /** A slot (in the app's limit, or the health checks') is ours: one attempt at the app. */
  admitted(): void {
    const { deps, call } = this;
    call.watch(undefined);
    this.admittedAt = performance.now();
    const { app } = deps.inbound;
    startAttempt(
      {
        call,
        connection: deps.pool.get(app),
        headers: aimRequest(this.headers, app, formatGrpcTimeout(this.deadline.remainingMs())),
        target: `app (${app})`,
        attempts: 1,
        holdResponseBytes: 0,
        hedge: false,
      },
      this,
    );
  }

  /** The caller went away, or the deadline passed, while the call waited in the queue. */
  callAbandoned(): void {
    if (!this.deps.limit.withdraw(this)) return;
    const code = this.abandonedCode();
    if (code === Status.DEADLINE_EXCEEDED) this.deps.metrics.inboundShed("queue_timeout");
    this.finish(code);
  }

  attemptDone(result: AttemptResult): void {
    const { call } = this;
    this.release(result);
    if (!result.committed && !result.cancelled) {
      if (result.neverProcessed) call.refuse();
      else if (result.uncommittedResponse) call.relayAnswer(result.uncommittedResponse, 1);
      else call.fail(result.code, result.message);
    }
    if (result.cancelled) this.finish(this.abandonedCode());
    else this.finish(result.code, result.message);
  }

  /**
   * Frees the call's slot, first telling the adaptive limit how long the app took: whatever the answer, but not for
   * health checks, calls the app never got, or calls their caller gave up on (their time says nothing of the app).
   */
  private release(result: AttemptResult): void {
    const { limit, adaptive, inbound } = this.deps;
    const { route } = this;
    if (adaptive && route.health === undefined && !result.neverProcessed && !this.call.callerCancelled) {
      const now = performance.now();
      if (adaptive.sample(now - this.admittedAt, limit.active, now))
        applyAdaptiveLimit(limit, adaptive, inbound.maxQueue);
    }
    route.slots.leave();
  }

  private abandonedCode(): number {
    return this.call.callerCancelled ? Status.CANCELLED : Status.DEADLINE_EXCEEDED;
  }

  private finish(code: number, message?: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadlineTimer);
    this.route.stats.finished(code, (performance.now() - this.started) / 1000);
    if (this.span) this.deps.tracer?.end(this.span, code, message);
    this.deps.inFlight.leave();
  }
}
