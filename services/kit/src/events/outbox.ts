import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { context } from "@opentelemetry/api";
import { OutboxEvent } from "../db/kit-tables.ts";
import { traceparentOf } from "../tracing/propagation.ts";
import { noteWritten } from "./committed-events.ts";
import { newEventId, type OutgoingEvent } from "./envelope.ts";

/**
 * Adds an event to the outbox in the caller's transaction: it is published if and only if the state change it
 * reports commits. The row keeps the traceparent of the active context (the handler or consumer span writing it),
 * or else the one given. Returns the event id.
 */
export function enqueueEvent<Desc extends DescMessage>(em: EntityManager, event: OutgoingEvent<Desc>): string {
  const id = event.eventId ?? newEventId();
  const row = em.create(OutboxEvent, {
    id,
    subject: event.subject,
    type: event.schema.typeName,
    correlationId: event.correlationId,
    traceparent: traceparentOf(context.active()) ?? event.traceparent ?? null,
    payload: Buffer.from(toBinary(event.schema, event.message)),
    publishedAt: null,
  });
  noteWritten(em, row);
  return id;
}

/** Enqueues an event caused by another one: same correlation id (the order) and trace (see enqueueEvent). */
export function enqueueFollowUp<Desc extends DescMessage>(
  em: EntityManager,
  cause: { correlationId: string; traceparent?: string },
  subject: string,
  schema: Desc,
  message: MessageShape<Desc>,
): string {
  return enqueueEvent(em, {
    subject,
    schema,
    message,
    correlationId: cause.correlationId,
    traceparent: cause.traceparent,
  });
}
