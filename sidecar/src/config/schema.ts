import { z } from "zod";
import { isStatusName, type StatusName } from "../grpc/status.ts";
import { isLoopback } from "./address.ts";

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/;

const address = z.string().refine((value) => HOST_PORT.test(value) && Number(HOST_PORT.exec(value)?.[2]) <= 65535, {
  error: (issue) => `expected host:port (for example 127.0.0.1:15001), got ${JSON.stringify(issue.input)}`,
});

const ms = z.number().int().nonnegative();
const percent = z.number().min(0).max(100);
const statusName = z
  .string()
  .refine(isStatusName, {
    error: (issue) => `expected a gRPC status name such as UNAVAILABLE, got ${JSON.stringify(issue.input)}`,
  })
  .transform((name) => name as StatusName);

/**
 * A policy group with its defaults. `full` fills every field (for `defaults`); `partial` has no defaults at all, so
 * an upstream or method sets only what it names and inherits the rest from the layer below.
 */
function policyGroup<Shape extends Record<string, z.ZodType>>(
  shape: Shape,
  defaults: { [K in keyof Shape]: z.output<Shape[K]> },
) {
  const withDefaults = Object.fromEntries(
    Object.entries(shape).map(([key, field]) => [key, field.default(defaults[key] as never)]),
  ) as { [K in keyof Shape]: z.ZodDefault<Shape[K]> };
  return { full: z.strictObject(withDefaults), partial: z.strictObject(shape).partial() };
}

export const retry = policyGroup(
  {
    /** Attempts in all, the first included; 1 turns retries off. */
    maxAttempts: z.number().int().min(1).max(10),
    /** Statuses that retry an idempotent method. */
    retryOn: z.array(statusName),
    /** First backoff; each next one doubles, with full jitter, up to maxBackoffMs. */
    initialBackoffMs: ms.min(1),
    maxBackoffMs: ms.min(1),
    /** An attempt not answered within this is cancelled (RST_STREAM CANCEL) and, when the method may be retried,
     * retried on another endpoint within the call's deadline; 0: attempts are bounded by the deadline only. */
    perTryTimeoutMs: ms,
  },
  { maxAttempts: 3, retryOn: ["UNAVAILABLE"], initialBackoffMs: 25, maxBackoffMs: 250, perTryTimeoutMs: 0 },
);

/**
 * Hedging (gRFC A6) for NO_SIDE_EFFECTS methods: when an attempt has not answered after the delay, another goes to
 * another endpoint; the first answer wins. The delay is fixed, or the upstream's observed latency percentile.
 */
export const hedgingSchema = z
  .strictObject({
    delayMs: ms.min(1).optional(),
    /** For example 95: hedge once an attempt has taken longer than 95% of this upstream's recent attempts. */
    delayPercentile: z.number().min(50).max(99.9).optional(),
    /** Attempts in all, the first included. */
    maxAttempts: z.number().int().min(2).max(5).default(2),
  })
  .refine((hedging) => (hedging.delayMs === undefined) !== (hedging.delayPercentile === undefined), {
    error: "give exactly one of delayMs and delayPercentile",
  });

export const faultsSchema = z.strictObject({
  delay: z.strictObject({ percent, ms: ms }).optional(),
  abort: z.strictObject({ percent, code: statusName, message: z.string().default("fault injected") }).optional(),
});

export const methodPolicySchema = z.strictObject({
  /** Upper bound on a call's deadline; the caller's grpc-timeout can only shorten it. */
  timeoutMs: ms.min(1).optional(),
  retry: retry.partial.optional(),
  faults: faultsSchema.optional(),
  hedging: hedgingSchema.optional(),
});

export const circuitBreaker = policyGroup(
  {
    /** method: one breaker per method of the upstream (methods missing from the descriptor sets share one), so one
     * method's failures (charges) never fail another's calls (refunds) fast; upstream: one breaker for all calls. */
    scope: z.enum(["method", "upstream"]),
    /** sampling: open when the failure ratio over windowMs passes failureRatio (with enough traffic);
     * consecutive: open after consecutiveFailures failures in a row. */
    mode: z.enum(["sampling", "consecutive"]),
    failureRatio: z.number().gt(0).max(1),
    windowMs: ms.min(1000),
    minimumRequestsPerSecond: z.number().positive(),
    consecutiveFailures: z.number().int().min(1),
    /** How long the breaker stays open before one probe call may pass (half-open). */
    halfOpenAfterMs: ms.min(1),
    /** Statuses that count as failures (transport failures always do). */
    failOn: z.array(statusName),
  },
  {
    scope: "method",
    mode: "sampling",
    failureRatio: 0.5,
    windowMs: 10_000,
    minimumRequestsPerSecond: 5,
    consecutiveFailures: 5,
    halfOpenAfterMs: 5000,
    failOn: ["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN", "DATA_LOSS"],
  },
);

export const bulkhead = policyGroup(
  { maxConcurrent: z.number().int().min(1), maxQueue: z.number().int().min(0) },
  { maxConcurrent: 256, maxQueue: 64 },
);

export const outlierDetection = policyGroup(
  {
    consecutiveFailures: z.number().int().min(1),
    /** The first ejection's length; each further ejection of the same endpoint lasts one base longer. */
    baseEjectionMs: ms.min(1),
    maxEjectionMs: ms.min(1),
    /** Never eject more than this share of an upstream's endpoints. */
    maxEjectionPercent: percent,
  },
  { consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 },
);

export const loadBalancer = policyGroup(
  {
    /** ewma: power of two choices on each endpoint's latency EWMA times its outstanding calls (Linkerd, Finagle);
     * least-outstanding: power of two choices on outstanding calls alone. */
    policy: z.enum(["ewma", "least-outstanding"]),
    /** How fast the latency average forgets: the weight of a sample this old has fallen to 1/e. */
    decayMs: ms.min(1),
  },
  { policy: "ewma", decayMs: 10_000 },
);

export const retryBudget = policyGroup(
  {
    /** Retries may add at most this fraction of the requests seen in the window... */
    ratio: z.number().min(0).max(10),
    /** ...plus this many retries per second, so low traffic can still retry. */
    minRetriesPerSecond: z.number().min(0),
    windowSeconds: z.number().int().min(1).max(600),
  },
  { ratio: 0.2, minRetriesPerSecond: 10, windowSeconds: 10 },
);

const upstreamPolicyShape = {
  timeoutMs: methodPolicySchema.shape.timeoutMs,
  retry: retry.partial.optional(),
  faults: faultsSchema.optional(),
  circuitBreaker: circuitBreaker.partial.optional(),
  bulkhead: bulkhead.partial.optional(),
  outlierDetection: outlierDetection.partial.optional(),
  retryBudget: retryBudget.partial.optional(),
  loadBalancer: loadBalancer.partial.optional(),
  /** Applies to the upstream's NO_SIDE_EFFECTS methods only; a method's own hedging must be NO_SIDE_EFFECTS. */
  hedging: hedgingSchema.optional(),
};

export const defaultsSchema = z.strictObject({
  timeoutMs: ms.min(1).default(30_000),
  retry: retry.full.prefault({}),
  faults: faultsSchema.prefault({}),
  circuitBreaker: circuitBreaker.full.prefault({}),
  bulkhead: bulkhead.full.prefault({}),
  outlierDetection: outlierDetection.full.prefault({}),
  retryBudget: retryBudget.full.prefault({}),
  loadBalancer: loadBalancer.full.prefault({}),
});

export const upstreamSchema = z.strictObject({
  /** The protobuf services (package.Service) this upstream serves: calls to them route here. */
  services: z.array(z.string().regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/, "expected package.Service")).default([]),
  /** Static endpoints (inbound listeners of the upstream's sidecars); with Consul they are discovered instead. */
  endpoints: z.array(address).default([]),
  ...upstreamPolicyShape,
  /** Per-method overrides, keyed by method name ("GetStock") or full name ("shop.inventory.v1.InventoryService/GetStock"). */
  methods: z.record(z.string(), methodPolicySchema).default({}),
});

export const configSchema = z
  .strictObject({
    /** The mesh service this sidecar fronts (the name it registers under). */
    service: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, "expected a lower-case service name")
      .optional(),
    inbound: z
      .strictObject({
        listen: address.default("0.0.0.0:15000"),
        /** The local app's gRPC server. */
        app: address.default("127.0.0.1:50051"),
        maxConcurrent: z.number().int().min(1).default(1024),
        maxQueue: z.number().int().min(0).default(128),
        /** A concurrency limit below maxConcurrent that follows the app's measured latency (a gradient limiter, as
         * Netflix's concurrency-limits): calls beyond it and the queue are shed at once with RESOURCE_EXHAUSTED.
         * Opt-in, as Envoy's adaptive concurrency filter is: it sheds whatever raises latency past the tolerance,
         * which an app that should rather queue (a benchmark at 128 in flight, say) does not want. */
        adaptiveConcurrency: z
          .strictObject({
            enabled: z.boolean().default(false),
            /** The limit never goes below this... */
            minLimit: z.number().int().min(1).default(8),
            /** ...starts here... */
            initialLimit: z.number().int().min(1).default(64),
            /** ...and tolerates latency up to this multiple of the best recent latency before it shrinks. */
            tolerance: z.number().min(1).default(2),
            /** How often the limit is recomputed from the latencies measured since. */
            intervalMs: ms.min(10).default(250),
          })
          .prefault({}),
        timeoutMs: ms.min(1).default(60_000),
        /** The protobuf services the app serves, advertised in Consul so callers can route to this service by contract. */
        services: z
          .array(z.string().regex(/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/, "expected package.Service"))
          .default([]),
      })
      .optional(),
    outbound: z.strictObject({ listen: address.default("127.0.0.1:15001") }).optional(),
    admin: z.strictObject({ listen: address.default("127.0.0.1:15090") }).prefault({}),
    /** Descriptor sets (`buf build -o image.binpb`) that tell each method's idempotency level. */
    descriptors: z.array(z.string().min(1)).default([]),
    limits: z
      .strictObject({
        maxMessageBytes: z
          .number()
          .int()
          .min(1)
          .default(4 * 1024 * 1024),
        retryBufferBytes: z
          .number()
          .int()
          .min(0)
          .default(64 * 1024),
        connectTimeoutMs: ms.min(1).default(1000),
        maxConcurrentStreams: z.number().int().min(1).default(1000),
        /** Request headers larger than this (HTTP/2 header list size) are refused: gRPC servers' own limit is 8 KiB,
         * and a peer that exceeds it closes the whole connection, failing every call multiplexed on it. */
        maxHeaderListBytes: z.number().int().min(1024).default(8192),
      })
      .prefault({}),
    /** Discovery and registration through a Consul agent (CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN override). */
    consul: z
      .strictObject({
        address: z.string().min(1).default("127.0.0.1:8500"),
        token: z.string().optional(),
        /** Register the inbound listener under `service` (needs `service` and `inbound`). */
        register: z.boolean().default(true),
        /** The address callers reach the inbound listener at; default: its listen host, or this host's first
         * non-loopback IPv4 address when it listens on all interfaces. */
        advertiseAddress: z.string().optional(),
        tags: z.array(z.string()).default([]),
        /** The version advertised in the registration's Meta. */
        version: z.string().default("0.0.0"),
        checkIntervalMs: ms.min(1000).default(10_000),
        checkTimeoutMs: ms.min(100).default(2000),
        deregisterCriticalAfterMs: ms.min(60_000).default(60_000),
        /** How long a discovery watch blocks per request (Consul's `wait`). */
        watchWaitMs: ms.min(1000).max(600_000).default(30_000),
        /** A watch sends at most one request per this interval while nothing changes (guards against storms). */
        watchMinIntervalMs: ms.min(10).default(250),
      })
      .optional(),
    /** Mutual TLS between sidecars with identities from Consul's Connect CA, and authorization by intentions. */
    tls: z
      .strictObject({
        /** Default: on whenever the sidecar talks to Consul (a `consul` section). */
        enabled: z.boolean().optional(),
        /** A connection that has not finished its TLS handshake by then is closed. */
        handshakeTimeoutMs: ms.min(100).default(5000),
        /** A plaintext listener answering only GET /readyz, for Consul's health check (the inbound port takes only
         * mutual TLS, which Consul's checks cannot speak); default: the inbound listener's host, a free port. */
        healthListen: address.optional(),
      })
      .prefault({}),
    /** How long SIGTERM waits for in-flight calls before closing them. */
    drainTimeoutMs: ms.default(10_000),
    defaults: defaultsSchema.prefault({}),
    upstreams: z
      .record(z.string().regex(/^[a-z][a-z0-9-]*$/, "expected a lower-case upstream name"), upstreamSchema)
      .default({}),
  })
  .transform((config, context) => {
    const enabled = config.tls.enabled ?? config.consul !== undefined;
    const needs = (key: string, message: string) =>
      context.addIssue({ code: "custom", path: [key], message, input: undefined });
    if (enabled && !config.consul)
      needs("consul", "mesh TLS (tls.enabled) takes its certificates from Consul: add a consul section");
    if (enabled && !config.service)
      needs("service", "mesh TLS needs the service name this sidecar's certificate is for");
    // Once the mesh has identities nothing plaintext may listen beyond loopback but the health listener.
    const plaintext = { admin: config.admin.listen, outbound: config.outbound?.listen };
    for (const [section, listen] of Object.entries(plaintext)) {
      if (enabled && listen && !isLoopback(listen)) {
        context.addIssue({
          code: "custom",
          path: [section, "listen"],
          message: `with mesh TLS this plaintext listener must stay on loopback (127.0.0.1 or [::1]), got "${listen}"`,
          input: undefined,
        });
      }
    }
    return { ...config, tls: { ...config.tls, enabled } };
  });

export type SidecarConfig = z.output<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type Defaults = z.output<typeof defaultsSchema>;
export type RetryPolicy = z.output<typeof retry.full>;
export type FaultPolicy = z.output<typeof faultsSchema>;
export type CircuitBreakerPolicy = z.output<typeof circuitBreaker.full>;
export type BulkheadPolicy = z.output<typeof bulkhead.full>;
export type OutlierDetectionPolicy = z.output<typeof outlierDetection.full>;
export type RetryBudgetPolicy = z.output<typeof retryBudget.full>;
export type LoadBalancerPolicy = z.output<typeof loadBalancer.full>;
export type HedgingPolicy = z.output<typeof hedgingSchema>;
export type AdaptiveConcurrencyConfig = NonNullable<SidecarConfig["inbound"]>["adaptiveConcurrency"];
