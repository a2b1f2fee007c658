import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BreakerState } from "../resilience/circuit-breaker.ts";

export type Direction = "inbound" | "outbound";

const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };

/** The sidecar's Prometheus metrics, on a registry of its own. Label children are cached: this is the hot path. */
export class MeshMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "mesh_requests_total",
    help: "Calls completed, by direction, upstream, method and gRPC status",
    labelNames: ["direction", "upstream", "method", "code"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "mesh_request_duration_seconds",
    help: "Call latency as the caller sees it, retries and backoff included",
    labelNames: ["direction", "upstream", "method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
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
    help: "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
    labelNames: ["upstream"] as const,
    registers: [this.registry],
  });
  private readonly breakerRejections = new Counter({
    name: "mesh_circuit_breaker_rejections_total",
    help: "Calls failed fast because the upstream's circuit breaker was open",
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
  constructor() {
    // Process and runtime metrics (CPU, resident memory, heap, event-loop lag, GC), prefixed like the rest.
    collectDefaultMetrics({ register: this.registry, prefix: "mesh_" });
  }

  /** The metric children of one route, resolved once: the route keeps them and each call updates them directly. */
  route(direction: Direction, upstream: string, method: string): RouteMetrics {
    return new RouteMetrics(
      this.inFlight.labels(direction),
      this.duration.labels(direction, upstream, method),
      (code) => this.requests.labels(direction, upstream, method, String(code)),
    );
  }

  retried(upstream: string, method: string, reason: string): void {
    this.retries.inc({ upstream, method, reason });
  }

  retryBudgetExhausted(upstream: string): void {
    this.budgetExhausted.inc({ upstream });
  }

  breakerChanged(upstream: string, state: BreakerState): void {
    this.breakerState.set({ upstream }, BREAKER_VALUES[state]);
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
    this.faults.inc({ upstream, method, kind });
  }

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

interface CounterChild {
  inc(): void;
}

/** A route's in-flight gauge, latency histogram and per-status counters, without label lookups per call. */
export class RouteMetrics {
  /** Counters by gRPC status code, made on a code's first use. */
  private readonly byCode: (CounterChild | undefined)[] = [];

  constructor(
    private readonly inFlight: { inc(): void; dec(): void },
    private readonly duration: { observe(seconds: number): void },
    private readonly counterFor: (code: number) => CounterChild,
  ) {}

  started(): void {
    this.inFlight.inc();
  }

  finished(code: number, seconds: number): void {
    this.inFlight.dec();
    let counter = this.byCode[code];
    if (counter === undefined) {
      counter = this.counterFor(code);
      this.byCode[code] = counter;
    }
    counter.inc();
    this.duration.observe(seconds);
  }
}
