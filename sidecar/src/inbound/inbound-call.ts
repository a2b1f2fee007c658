import type { MeshMetrics } from "../admin/metrics.ts";
import type { RouteStats } from "../admin/route-stats.ts";
import type { SidecarConfig } from "../config/schema.ts";
import { Deadline } from "../grpc/deadline.ts";
import { Status } from "../grpc/status.ts";
import { formatGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import { type AttemptListener, type AttemptResult, startAttempt } from "../proxy/attempt.ts";
import { enforceDeadline } from "../proxy/deadline-timer.ts";
import { type DownstreamCall, trailersOnlyFrom } from "../proxy/downstream-call.ts";
import type { GrpcRequest } from "../proxy/grpc-request.ts";
import { aimRequest, callerTraceparent, setTraceparent } from "../proxy/headers.ts";
import type { InFlight } from "../proxy/in-flight.ts";
import type { SessionPool } from "../proxy/session-pool.ts";
import type { Bulkhead, BulkheadWaiter } from "../resilience/bulkhead.ts";
import type { CallTracer, Span } from "../tracing/call-tracer.ts";

export type InboundConfig = NonNullable<SidecarConfig["inbound"]>;

export interface InboundCallDeps {
  inbound: InboundConfig;
  /** The app's concurrency limit. */
  limit: Bulkhead;
  pool: SessionPool;
  metrics: MeshMetrics;
  inFlight: InFlight;
  /** Present when the sidecar traces: the forwarded request then carries a traceparent slot. */
  tracer?: CallTracer;
}

export const APP = "app";

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

  constructor(
    private readonly deps: InboundCallDeps,
    private readonly call: DownstreamCall,
    private readonly request: GrpcRequest,
    /** The request as forwarded (see forwardedRequest). */
    private readonly headers: HeaderList,
    private readonly stats: RouteStats,
  ) {
    this.deadline = new Deadline(request.timeoutMs, deps.inbound.timeoutMs);
  }

  start(): void {
    const { deps, call } = this;
    deps.inFlight.enter();
    this.stats.started();
    const { tracer } = deps;
    if (tracer) {
      this.span = tracer.startCall("server", this.request, callerTraceparent(this.headers));
      setTraceparent(this.headers, tracer.traceparent(this.span));
    }
    this.deadlineTimer = enforceDeadline(call, this.deadline, `the app at ${deps.inbound.app}`);
    if (deps.limit.tryEnter()) {
      this.admitted();
    } else if (deps.limit.enqueue(this)) {
      this.span?.addEvent("bulkhead.queued");
      call.watch(this);
    } else {
      deps.metrics.bulkheadRejected("inbound", APP);
      const { maxConcurrent, maxQueue } = deps.inbound;
      const message = `the app is at its concurrency limit (${maxConcurrent} in flight and ${maxQueue} queued)`;
      call.fail(Status.RESOURCE_EXHAUSTED, message);
      this.finish(Status.RESOURCE_EXHAUSTED, message);
    }
  }

  /** A slot in the app's limit is ours: one attempt at the app. */
  admitted(): void {
    const { deps, call } = this;
    call.watch(undefined);
    const { app } = deps.inbound;
    startAttempt(
      {
        call,
        connection: deps.pool.get(app),
        headers: aimRequest(this.headers, app, formatGrpcTimeout(this.deadline.remainingMs())),
        target: `app (${app})`,
        attempts: 1,
        holdResponseBytes: 0,
      },
      this,
    );
  }

  /** The caller went away, or the deadline passed, while the call waited in the queue. */
  callAbandoned(): void {
    if (!this.deps.limit.withdraw(this)) return;
    this.finish(this.abandonedCode());
  }

  attemptDone(result: AttemptResult): void {
    const { call } = this;
    this.deps.limit.leave();
    if (!result.committed && !result.cancelled) {
      if (result.neverProcessed) call.refuse();
      else if (result.uncommittedResponse) call.respondTrailersOnly(trailersOnlyFrom(result.uncommittedResponse, 1));
      else call.fail(result.code, result.message);
    }
    if (result.cancelled) this.finish(this.abandonedCode());
    else this.finish(result.code, result.message);
  }

  private abandonedCode(): number {
    return this.call.callerCancelled ? Status.CANCELLED : Status.DEADLINE_EXCEEDED;
  }

  private finish(code: number, message?: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadlineTimer);
    this.stats.finished(code, (performance.now() - this.started) / 1000);
    if (this.span) this.deps.tracer?.end(this.span, code, message);
    this.deps.inFlight.leave();
  }
}
