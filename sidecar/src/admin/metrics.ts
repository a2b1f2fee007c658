import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { BreakerState } from "../resilience/circuit-breaker.ts";

import { type Direction, durationMetric, RouteStats, requestsMetric, UNKNOWN_METHOD } from "./route-stats.ts";

export { type Direction, UNKNOWN_METHOD } from "./route-stats.ts";

/**
 * Why the inbound listener shed a call: beyond its limit with the queue full, its deadline passed in the queue, or a
 * health check beyond the health checks' own bound.
 */
export type ShedReason = "concurrency_limit" | "queue_timeout" | "health_limit";

/** The inbound listener's concurrency limit now, as /metrics and /clusters show it. */
export interface InboundLimitState {
  limit: number;
  inFlight: number;
  queued: number;
  /** Calls shed since the start. */
  shed: number;
  /** The app's latency without load and over the last interval, in ms (null without adaptive concurrency). */
  baselineMs: number | null;
  recentMs: number | null;
}

const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };

/** The sidecar's Prometheus metrics, on a registry of its own. Label children are cached: this is the hot path. */
export class MeshMetrics {
  readonly registry = new Registry();
  /** Per-route counters, read by the registry at scrape time (see route-stats.ts). */
  private readonly routes = new Map<string, RouteStats>();
  /**
   * The `method` labels of the routes made so far: the listeners make routes only for the contracts' methods (and
   * `unknown`), so other counters labelled by method keep to these too.
   */
  private readonly methodLabels = new Set<string>([UNKNOWN_METHOD]);
  private readonly retries = new Counter({
    name: "mesh_retries_total",
    help: "Retries sent, by reason (status: a retryable status on an idempotent method; never_processed)",
    labelNames: ["upstream", "method", "reason"] as const,
    registers: [this.registry],
  });
  private readonly budgetExhausted = new Counter({
    name: "mesh_retry_budget_exhausted_total",
    help: "Retries not sent because the upstream's retry budget was spent",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly breakerState = new Gauge({
    name: "mesh_circuit_breaker_state",
    help: "Circuit breaker state per upstream, the worst of its breakers: 0 closed, 1 open, 2 half-open",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly methodBreakerState = new Gauge({
    name: "mesh_circuit_breaker_method_state",
    help: "State of each method's circuit breaker (scope method; undescribed: the methods missing from the descriptor sets): 0 closed, 1 open, 2 half-open",
    labelNames: ["upstream", "method"] as const,
    registers: [this.registry],
  });
  private readonly breakerRejections = new Counter({
    name: "mesh_circuit_breaker_rejections_total",
    help: "Calls failed fast because a circuit breaker of the upstream was open",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly ejections = new Counter({
    name: "mesh_outlier_ejections_total",
    help: "Endpoints ejected by outlier detection",
    labelNames: ["upstream", "endpoint"] as const,
    registers: [this.registry],
  });
  private readonly bulkheadRejections = new Counter({
    name: "mesh_bulkhead_rejections_total",
    help: "Calls refused because the concurrency limit and its queue were full",
    labelNames: ["direction", "upstream"] as const,
    registers: [this.registry],
  });
  private readonly faults = new Counter({
    name: "mesh_faults_injected_total",
    help: "Faults injected by configuration, by kind (delay, abort)",
    labelNames: ["upstream", "method", "kind"] as const,
    registers: [this.registry],
  });
  private readonly discoveryErrors = new Counter({
    name: "mesh_discovery_errors_total",
    help: "Failed discovery requests per upstream (the last known endpoints stay in use meanwhile)",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly endpointCount = new Gauge({
    name: "mesh_upstream_endpoints",
    help: "Endpoints known per upstream (healthy in discovery)",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: "mesh_calls_in_flight",
    help: "Calls being proxied now",
    labelNames: ["direction"] as const,
    registers: [this.registry],
    collect: () => {
      const counts = { inbound: 0, outbound: 0 };
      for (const route of this.routes.values()) counts[route.labels.direction] += route.inFlight;
      this.inFlight.set({ direction: "inbound" }, counts.inbound);
      this.inFlight.set({ direction: "outbound" }, counts.outbound);
    },
  });
  private readonly denied = new Counter({
    name: "mesh_authorization_denied_total",
    help: "Inbound calls denied by intentions, by calling service, this service and method path",
    labelNames: ["source", "destination", "method"] as const,
    registers: [this.registry],
  });
  private readonly tlsRefused = new Counter({
    name: "mesh_tls_connections_refused_total",
    help: "Inbound connections refused before any call: failed or unfinished handshakes, untrusted certificates, plaintext",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private readonly certificateExpiry = new Gauge({
    name: "mesh_tls_certificate_expiry_timestamp_seconds",
    help: "When the sidecar's current leaf certificate expires (Unix time)",
    registers: [this.registry],
  });
  private readonly sheds = new Counter({
    name: "mesh_inbound_shed_total",
    help: "Inbound calls shed before they reached the app: concurrency_limit (beyond the limit, queue full), queue_timeout (deadline passed while queued), health_limit (health checks beyond their own bound)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private readonly shedChildren = new Map<ShedReason, Counter.Internal>();
  private shedCount = 0;
  /** Reads the inbound limit's state; set by the inbound listener (see watchInbound). */
  private inbound: (() => Omit<InboundLimitState, "shed">) | undefined;

  constructor() {
    // Process and runtime metrics (CPU, resident memory, heap, event-loop lag, GC), prefixed like the rest.
    collectDefaultMetrics({ register: this.registry, prefix: "mesh_" });
    this.registry.registerMetric(requestsMetric(this.routes));
    this.registry.registerMetric(durationMetric(this.routes));
  }

  /**
   * One route's statistics, made on its first call: the route keeps them and each call updates them directly.
   * `method` is a method of the contracts or UNKNOWN_METHOD, never a name a caller made up (see the listeners).
   */
  route(direction: Direction, upstream: string, method: string): RouteStats {
    const key = `${direction}|${upstream}|${method}`;
    let route = this.routes.get(key);
    if (!route) {
      route = new RouteStats({ direction, upstream, method });
      this.routes.set(key, route);
      this.methodLabels.add(method);
    }
    return route;
  }

  /** How many routes have statistics (each is a series of `mesh_requests_total` per status once called). */
  get routeCount(): number {
    return this.routes.size;
  }

  /** A method name as a label: itself when a route has it, else UNKNOWN_METHOD (callers choose method names). */
  private methodLabel(method: string): string {
    return this.methodLabels.has(method) ? method : UNKNOWN_METHOD;
  }

  /** Publishes the inbound limit's state, read at scrape time (and by /clusters through inboundState). */
  watchInbound(read: () => Omit<InboundLimitState, "shed">): void {
    this.inbound = read;
    new Gauge({
      name: "mesh_inbound_concurrency_limit",
      help: "Calls the inbound listener lets reach the app at once (adaptive, or the fixed maxConcurrent)",
      registers: [this.registry],
      collect() {
        this.set(read().limit);
      },
    });
    new Gauge({
      name: "mesh_inbound_queued",
      help: "Inbound calls waiting for a slot under the concurrency limit",
      registers: [this.registry],
      collect() {
        this.set(read().queued);
      },
    });
  }

  inboundState(): InboundLimitState | undefined {
    return this.inbound && { ...this.inbound(), shed: this.shedCount };
  }

  /** Label children are cached: under overload this runs for most calls. */
  inboundShed(reason: ShedReason): void {
    let child = this.shedChildren.get(reason);
    if (!child) {
      child = this.sheds.labels(reason);
      this.shedChildren.set(reason, child);
    }
    child.inc();
    this.shedCount++;
  }

  retried(upstream: string, method: string, reason: string): void {
    this.retries.inc({ upstream, method: this.methodLabel(method), reason });
  }

  retryBudgetExhausted(upstream: string): void {
    this.budgetExhausted.inc({ upstream });
  }

  breakerChanged(upstream: string, state: BreakerState): void {
    this.breakerState.set({ upstream }, BREAKER_VALUES[state]);
  }

  methodBreakerChanged(upstream: string, method: string, state: BreakerState): void {
    this.methodBreakerState.set({ upstream, method }, BREAKER_VALUES[state]);
  }

  breakerRejected(upstream: string): void {
    this.breakerRejections.inc({ upstream });
  }

  ejected(upstream: string, endpoint: string): void {
    this.ejections.inc({ upstream, endpoint });
  }

  bulkheadRejected(direction: Direction, upstream: string): void {
    this.bulkheadRejections.inc({ direction, upstream });
  }

  discoveryFailed(upstream: string): void {
    this.discoveryErrors.inc({ upstream });
  }

  endpointsKnown(upstream: string, count: number): void {
    this.endpointCount.set({ upstream }, count);
  }

  faultInjected(upstream: string, method: string, kind: "delay" | "abort"): void {
    this.faults.inc({ upstream, method: this.methodLabel(method), kind });
  }

  /** `method` is the path of a described method, or UNKNOWN_METHOD (the inbound listener decides). */
  authorizationDenied(source: string, destination: string, method: string): void {
    this.denied.inc({ source, destination, method });
  }

  /** `reason` is a short kind (plaintext, handshake_failed, untrusted_certificate...), so label values stay few. */
  connectionRefused(reason: string): void {
    this.tlsRefused.inc({ reason });
  }

  certificateIssued(validBefore: Date): void {
    this.certificateExpiry.set(validBefore.getTime() / 1000);
  }
}
