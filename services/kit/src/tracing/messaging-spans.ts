import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { kitTracer, ORDER_ID } from "./kit-tracer.ts";
import { contextFromTraceparent, traceparentOf } from "./propagation.ts";

/** What the messaging spans say about an event. */
export interface EventIdentity {
  id: string;
  subject: string;
  type: string;
  /** The order the event belongs to. */
  correlationId: string;
  traceparent: string | null | undefined;
}

/** How a consumer settled an event (contract attribute `shop.event.outcome`). */
export type EventOutcome = "applied" | "duplicate" | "deferred" | "dead-lettered" | "failed";

function messagingAttributes(operation: "publish" | "process", event: EventIdentity): Attributes {
  const attributes: Attributes = {
    "messaging.system": "nats",
    "messaging.operation.name": operation,
    "messaging.destination.name": event.subject,
    "messaging.message.id": event.id,
    "shop.event.type": event.type,
  };
  if (event.correlationId) attributes[ORDER_ID] = event.correlationId;
  return attributes;
}

function fail(span: Span, error: unknown) {
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
  span.end();
}

/**
 * Publishes an outbox row in a PRODUCER span whose parent is the row's traceparent (the handler or consumer that
 * wrote it); `publish` gets the traceparent the message carries: the producer span's, or, with tracing off, the
 * row's own, unchanged.
 */
export async function publishInSpan<T>(
  event: EventIdentity,
  publish: (traceparent: string | undefined) => Promise<T>,
): Promise<T> {
  const parent = contextFromTraceparent(event.traceparent);
  const span = kitTracer().startSpan(
    `publish ${event.subject}`,
    { kind: SpanKind.PRODUCER, attributes: messagingAttributes("publish", event) },
    parent,
  );
  const publishing = trace.setSpan(parent, span);
  try {
    // A traceparent the propagator cannot read is still passed on as it was, as before tracing.
    const result = await context.with(publishing, () =>
      publish(traceparentOf(publishing) ?? event.traceparent ?? undefined),
    );
    span.end();
    return result;
  } catch (error) {
    fail(span, error);
    throw error;
  }
}

/**
 * Applies an event in a CONSUMER span whose parent is the message's traceparent: the work done while applying it
 * (queries, outbox rows, calls) belongs to the saga's trace. `apply` reports the outcome and, for one that is not
 * a success, why.
 */
export async function consumeInSpan(
  event: EventIdentity,
  consumer: string,
  apply: () => Promise<{ outcome: EventOutcome; reason?: string }>,
): Promise<void> {
  const parent = contextFromTraceparent(event.traceparent);
  const span = kitTracer().startSpan(
    `process ${event.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: { ...messagingAttributes("process", event), "messaging.consumer.group.name": consumer },
    },
    parent,
  );
  try {
    const { outcome, reason } = await context.with(trace.setSpan(parent, span), apply);
    span.setAttribute("shop.event.outcome", outcome);
    // A deferred event (RetryLaterError) is not an error: it waits for a dependency, and says why.
    if (outcome === "deferred") span.setAttribute("shop.event.deferred_reason", reason ?? "");
    if (outcome === "failed" || outcome === "dead-lettered")
      span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    span.end();
  } catch (error) {
    fail(span, error);
    throw error;
  }
}
