import { Counter, Gauge, type Registry } from "prom-client";

/** A failing event as this instance saw it: since its first failure, and by when its next try is due here. */
interface Failing {
  since: number;
  dueBy: number;
}

/** Slack past a retry's delay before an event that did not come back here is taken as another instance's now. */
const OVERDUE_SLACK_MS = 60_000;

/**
 * A consumer's events that failed and wait for another try. JetStream may deliver the next try to another instance
 * of the service: an event that does not come back here within twice its delay plus a minute leaves this list (the
 * other instance counts it, from its own first failure).
 */
class FailingEvents {
  private readonly events = new Map<string, Failing>();

  failed(eventId: string, delayMs: number, now = Date.now()): void {
    this.forgetOverdue(now);
    const since = this.events.get(eventId)?.since ?? now;
    this.events.set(eventId, { since, dueBy: now + 2 * delayMs + OVERDUE_SLACK_MS });
  }

  settled(eventId: string): void {
    this.events.delete(eventId);
  }

  /** How many are failing now, and the oldest one's age in seconds (0 when none). */
  current(now = Date.now()): { count: number; oldestAgeSeconds: number } {
    this.forgetOverdue(now);
    let oldest = now;
    for (const { since } of this.events.values()) oldest = Math.min(oldest, since);
    return { count: this.events.size, oldestAgeSeconds: (now - oldest) / 1000 };
  }

  private forgetOverdue(now: number) {
    for (const [eventId, { dueBy }] of this.events) if (dueBy < now) this.events.delete(eventId);
  }
}

interface EventMetrics {
  failing: Map<string, FailingEvents>;
  retries: Counter<"consumer">;
  deadLettered: Counter<"consumer">;
}

/** prom-client refuses a metric registered twice: every consumer of a service shares the registry's four. */
const metricsOf = new WeakMap<Registry, EventMetrics>();

function eventMetrics(registry: Registry): EventMetrics {
  const known = metricsOf.get(registry);
  if (known) return known;
  const failing = new Map<string, FailingEvents>();
  const labelNames = ["consumer"] as const;
  const registers = [registry];
  // The gauges are read from the failing events when scraped: nothing to keep up to date as events come and go.
  new Gauge({
    name: "mesh_events_retrying",
    help: "Events that failed and wait for another try now, per consumer",
    labelNames,
    registers,
    collect() {
      for (const [consumer, events] of failing) this.set({ consumer }, events.current().count);
    },
  });
  new Gauge({
    name: "mesh_events_oldest_retry_age_seconds",
    help: "Age of the oldest event waiting for another try, since its first failure, per consumer (0: none)",
    labelNames,
    registers,
    collect() {
      for (const [consumer, events] of failing) this.set({ consumer }, events.current().oldestAgeSeconds);
    },
  });
  const metrics: EventMetrics = {
    failing,
    retries: new Counter({
      name: "mesh_events_retries_total",
      help: "Tries of events scheduled after a failure or a deferral, per consumer",
      labelNames,
      registers,
    }),
    deadLettered: new Counter({
      name: "mesh_events_dead_lettered_total",
      help: "Events given up and stored as dead letters, per consumer",
      labelNames,
      registers,
    }),
  };
  metricsOf.set(registry, metrics);
  return metrics;
}

/** What one consumer reports about the events it settles (metrics contract F). */
export class ConsumerMetrics {
  private readonly metrics: EventMetrics;
  private readonly failing: FailingEvents;

  constructor(
    registry: Registry,
    private readonly consumer: string,
  ) {
    this.metrics = eventMetrics(registry);
    const failing = this.metrics.failing.get(consumer) ?? new FailingEvents();
    this.metrics.failing.set(consumer, failing);
    this.failing = failing;
    // Every consumer's series exist from the start, at zero: a rate or an alert needs no first failure to see them.
    this.metrics.retries.inc({ consumer }, 0);
    this.metrics.deadLettered.inc({ consumer }, 0);
  }

  /** The event failed (or was deferred) and comes again after delayMs. */
  retrying(eventId: string, delayMs: number): void {
    this.failing.failed(eventId, delayMs);
    this.metrics.retries.inc({ consumer: this.consumer });
  }

  /** The event was applied (or found applied already). */
  settled(eventId: string): void {
    this.failing.settled(eventId);
  }

  deadLettered(eventId: string): void {
    this.failing.settled(eventId);
    this.metrics.deadLettered.inc({ consumer: this.consumer });
  }
}
