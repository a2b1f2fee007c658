import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { InboxEntry, type OutboxEvent } from "../db/kit-tables.ts";
import { consumeInSpan, type EventOutcome } from "../tracing/messaging-spans.ts";
import { transactionWithEvents } from "./committed-events.ts";
import { Header } from "./envelope.ts";
import { pullMessages } from "./pull-messages.ts";
import { deadLetterSubject } from "./streams.ts";

/** What a handler learns about the event it applies. */
export interface IncomingEvent {
  id: string;
  subject: string;
  type: string;
  correlationId: string;
  traceparent: string | undefined;
  deliveryCount: number;
  payload: Uint8Array;
}

/** Applies one event's effect with the transaction's entity manager; throwing rolls the effect back. */
export type EventHandler = (em: EntityManager, event: IncomingEvent) => Promise<void>;

/** Thrown by a handler for an event that can never be applied (undecodable, impossible): it goes straight to the dead letters. */
export class PoisonEventError extends Error {}

/**
 * Thrown by a handler whose event cannot be applied yet but will be (a dependency briefly away): the effect rolls
 * back and the event comes again after delayMs, without the growing delay of a failure. The consumer's maxDeliver
 * still bounds the deliveries, so a handler that defers should bound its own tries (by a deadline) below it.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

export interface ConsumerOptions {
  /** The durable consumer's name, unique per service and subject, for example `inventory-order-created`. */
  name: string;
  stream: string;
  /** One subject (NATS 2.9 allows a single filter per consumer). */
  subject: string;
  handler: EventHandler;
  /** Deliveries before the event goes to the dead letters. */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** Events applied at once (default 16). */
  concurrency?: number;
}

export interface ConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  orm: MikroORM;
  log: Logger;
  /** Called after an event's effect committed, with the outbox rows it wrote (for the relay to publish at once). */
  onApplied?: (events: readonly OutboxEvent[]) => void;
}

function incoming(message: JsMsg): IncomingEvent {
  const header = (name: string) => message.headers?.get(name) || undefined;
  return {
    id: header(Header.eventId) ?? `${message.info.stream}:${message.seq}`,
    subject: message.subject,
    type: header(Header.type) ?? "",
    correlationId: header(Header.correlationId) ?? "",
    traceparent: header(Header.traceparent),
    deliveryCount: message.info.deliveryCount,
    payload: message.data,
  };
}

/**
 * Applies an event at most once for a consumer: the inbox row and the effect commit in one transaction, and an
 * event id already in the inbox is skipped (`insert ... on conflict do nothing`: an error would abort the
 * transaction). Returns whether the effect ran.
 */
export async function applyOnce(
  orm: MikroORM,
  consumer: string,
  event: IncomingEvent,
  handler: EventHandler,
): Promise<boolean> {
  return (await applyOnceWithEvents(orm, consumer, event, handler)).result;
}

/** applyOnce, also resolving the outbox rows the effect wrote. */
function applyOnceWithEvents(orm: MikroORM, consumer: string, event: IncomingEvent, handler: EventHandler) {
  return transactionWithEvents(orm, async (em) => {
    const result = await em
      .createQueryBuilder(InboxEntry)
      .insert({ consumer, eventId: event.id, appliedAt: new Date() })
      .onConflict(["consumer", "event_id"])
      .ignore()
      .execute("run");
    if (result.affectedRows === 0) return false;
    await handler(em, event);
    return true;
  });
}

function retryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 250 * 2 ** (deliveryCount - 1));
}

/**
 * A durable pull consumer with explicit acks: each event is applied once (see applyOnce) and acked; a failure is
 * nak'ed with growing delay; after maxDeliver attempts, or at once for a PoisonEventError, the event is published
 * to the dead-letter subject with the reason, and terminated.
 */
export async function startConsumer(deps: ConsumerDeps, options: ConsumerOptions) {
  const maxDeliver = options.maxDeliver ?? 5;
  await deps.jsm.consumers.add(options.stream, {
    durable_name: options.name,
    filter_subject: options.subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // One more than we use: the last delivery is ours to dead-letter, not the server's to drop silently.
    max_deliver: maxDeliver + 1,
    ack_wait: (options.ackWaitMs ?? 30_000) * 1_000_000,
  });
  const consumer = await deps.js.consumers.get(options.stream, options.name);
  const log = deps.log.child({ consumer: options.name });
  const messages = pullMessages(consumer, Math.max(options.concurrency ?? 16, 8) * 2, () =>
    log.warn("neither events nor heartbeats came while waiting (a NATS node gone?); pulling afresh"),
  );

  const deadLetter = async (message: JsMsg, event: IncomingEvent, reason: string) => {
    const headers = message.headers ?? natsHeaders();
    headers.set(Header.deadLetterReason, reason.slice(0, 1024));
    headers.set(Header.originalSubject, message.subject);
    await deps.js.publish(deadLetterSubject(message.subject), message.data, { headers });
    message.term();
    log.error({ event: event.id, subject: message.subject, reason }, "event dead-lettered");
  };

  const settle = async (message: JsMsg, event: IncomingEvent): Promise<{ outcome: EventOutcome; reason?: string }> => {
    try {
      const { result: applied, events } = await applyOnceWithEvents(deps.orm, options.name, event, options.handler);
      if (applied) deps.onApplied?.(events);
      message.ack();
      return { outcome: applied ? "applied" : "duplicate" };
    } catch (error) {
      const reason = (error as Error).message;
      if (error instanceof PoisonEventError || event.deliveryCount >= maxDeliver) {
        await deadLetter(message, event, reason);
        return { outcome: "dead-lettered", reason };
      }
      const delayMs = error instanceof RetryLaterError ? error.delayMs : retryDelayMs(event.deliveryCount);
      log.warn(
        { event: event.id, attempt: event.deliveryCount, err: reason, delayMs },
        "event not applied; will retry",
      );
      message.nak(delayMs);
      return { outcome: error instanceof RetryLaterError ? "deferred" : "failed", reason };
    }
  };

  const process = (message: JsMsg) => {
    const event = incoming(message);
    return consumeInSpan(event, options.name, () => settle(message, event));
  };

  // Events of different orders are independent (each is applied in its own transaction, under row locks), so up
  // to `concurrency` are applied at once; the consumer still pulls no more than that many ahead.
  const concurrency = options.concurrency ?? 16;
  const loop = (async () => {
    const inFlight = new Set<Promise<void>>();
    for await (const message of messages) {
      const task: Promise<void> = process(message)
        .catch((error: unknown) => log.error({ err: error }, "could not settle event"))
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();

  return {
    /** Stops taking events; the one being applied finishes first. */
    async stop() {
      await messages.close();
      await loop;
    },
  };
}
