import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { InboxEntry, type OutboxEvent } from "../db/kit-tables.ts";
import { consumeInSpan, type EventOutcome } from "../tracing/messaging-spans.ts";
import { transactionWithEvents } from "./committed-events.ts";
import { ConsumerMetrics } from "./consumer-metrics.ts";
import { storeDeadLetter } from "./dead-lettering.ts";
import { Header } from "./envelope.ts";
import { pullMessages } from "./pull-messages.ts";

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
 * back and the event comes again after delayMs, without the growing delay of a failure. A bounded consumer's
 * maxDeliver still bounds the deliveries, so a handler that defers there should bound its own tries below it.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

// Consumer classes. Neither loses an event; they differ in when the kit stops trying one that fails.
// - Must-complete (`mustComplete: true`): the saga steps whose loss would leave money or stock wrong (a reservation
//   never released, a charge never refunded, an order never final). Their failures are transient in practice (a
//   database, a gateway, a lock away), and giving up would need a person to repair the saga. So a failing event is
//   tried again without limit, each time later (doubling from 250 ms up to the retry ceiling,
//   EVENT_RETRY_CEILING_MS, default 5 min: a long outage costs one try per event per ceiling), and the saga goes on
//   once the dependency is back. What can never apply says so (PoisonEventError); a definite refusal is not an
//   exception but the service's own state and an answering event.
// - Bounded (the default): the rest (projections, notifications, tools). After maxDeliver deliveries the event is
//   dead-lettered, so a broken handler does not retry forever; a person lists and replays it (`mesh dlq`).
// Either way the server never drops a delivery (max_deliver -1): the kit decides when an event is given up, and one
// whose dead letter could not be stored is kept and comes again.

export interface ConsumerOptions {
  /** The durable consumer's name, unique per service and subject, for example `inventory-order-created`. */
  name: string;
  stream: string;
  /** One subject (NATS 2.9 allows a single filter per consumer). */
  subject: string;
  handler: EventHandler;
  /** A consumer that must apply every event: a failing one is retried without limit (see "Consumer classes"). */
  mustComplete?: boolean;
  /** Deliveries before a failing event goes to the dead letters (default 5); unused when mustComplete. */
  maxDeliver?: number;
  /** The ceiling of the growing delay between tries of a failing event (default 5 min; EVENT_RETRY_CEILING_MS). */
  retryCeilingMs?: number;
  /** How long JetStream waits for an event's ack before delivering it again (default DEFAULT_ACK_WAIT_MS). */
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
  /** The service's metrics, where the consumer reports its retries and dead letters (default: a registry of its own). */
  metrics?: Registry;
}

export const DEFAULT_RETRY_CEILING_MS = 5 * 60_000;

/**
 * How long JetStream waits for a delivery's ack before it delivers the event again. Above all it bounds how late an
 * event comes back when the instance applying it dies: half the default saga deadline (30 s), so the saga can
 * still finish. It does not bound a handler: a live one keeps its message however long it runs (keepingMessage).
 * It is longer than a query waits for a database connection (10 s), so that events pulled ahead and waiting behind
 * handlers stuck on the database are not delivered a second time meanwhile.
 */
const DEFAULT_ACK_WAIT_MS = 15_000;

/** The delay before the second delivery of a failing event; it doubles with each failure, up to the ceiling. */
const FIRST_RETRY_DELAY_MS = 250;
/** A bounded consumer's delays stay below this: its few deliveries are short of it anyway. */
const BOUNDED_RETRY_CEILING_MS = 30_000;

function incoming(message: JsMsg): IncomingEvent {
  const header = (name: string) => message.headers?.get(name) || undefined;
  return {
    id: header(Header.eventId) ?? header(Header.msgId) ?? `${message.info.stream}:${message.seq}`,
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

/** applyOnce, also resolving the outbox rows the effect wrote (for the relay to publish once it committed). */
export function applyOnceWithEvents(orm: MikroORM, consumer: string, event: IncomingEvent, handler: EventHandler) {
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

function retryDelayMs(deliveryCount: number, ceilingMs: number): number {
  return Math.min(ceilingMs, FIRST_RETRY_DELAY_MS * 2 ** Math.min(deliveryCount - 1, 30));
}

/** Runs work while telling JetStream, every third of the ack wait, that the message is still being worked on. */
async function keepingMessage<T>(message: JsMsg, ackWaitMs: number, work: () => Promise<T>): Promise<T> {
  const heartbeat = setInterval(() => message.working(), ackWaitMs / 3);
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
  }
}

type Settled = { outcome: EventOutcome; reason?: string };

/**
 * A durable pull consumer with explicit acks: each event is applied once (see applyOnce) and acked; a failure is
 * nak'ed with a growing delay; a PoisonEventError, or for a bounded consumer the maxDeliver-th failure, stores a
 * dead letter (see storeDeadLetter) and terminates the event.
 */
export async function startConsumer(deps: ConsumerDeps, options: ConsumerOptions) {
  const maxDeliver = options.maxDeliver ?? 5;
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const ceilingMs = options.retryCeilingMs ?? DEFAULT_RETRY_CEILING_MS;
  const retryCeilingMs = options.mustComplete ? ceilingMs : Math.min(ceilingMs, BOUNDED_RETRY_CEILING_MS);
  await deps.jsm.consumers.add(options.stream, {
    durable_name: options.name,
    filter_subject: options.subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: -1,
    ack_wait: ackWaitMs * 1_000_000,
  });
  const consumer = await deps.js.consumers.get(options.stream, options.name);
  const log = deps.log.child({ consumer: options.name });
  const metrics = new ConsumerMetrics(deps.metrics ?? new Registry(), options.name);
  const messages = pullMessages(consumer, Math.max(options.concurrency ?? 16, 8) * 2, () =>
    log.warn("neither events nor heartbeats came while waiting (a NATS node gone?); pulling afresh"),
  );

  /** Naks the event to come again after delayMs, and says so: log, span event, metrics. */
  const retryLater = (message: JsMsg, event: IncomingEvent, delayMs: number, reason: string) => {
    const attempt = event.deliveryCount;
    log.warn({ event: event.id, attempt, delayMs, err: reason }, "event not applied; will retry");
    trace
      .getActiveSpan()
      ?.addEvent("retry scheduled", { "shop.event.attempt": attempt, "shop.event.retry_delay_ms": delayMs });
    metrics.retrying(event.id, delayMs);
    message.nak(delayMs);
  };

  const deadLetter = async (message: JsMsg, event: IncomingEvent, reason: string): Promise<Settled> => {
    const facts = { consumer: options.name, eventId: event.id, reason, deliveries: event.deliveryCount };
    try {
      await storeDeadLetter(deps.js, deps.jsm, message, facts);
    } catch (error) {
      // Terminated without its dead letter, the event would be lost: it comes again, and is given up again then.
      const why = `dead letter not stored (${(error as Error).message}) for: ${reason}`;
      retryLater(message, event, retryDelayMs(event.deliveryCount, retryCeilingMs), why);
      return { outcome: "failed", reason: why };
    }
    // Without a reason: nats-server 2.9 ignores a +TERM that carries one.
    message.term();
    metrics.deadLettered(event.id);
    log.error({ event: event.id, subject: message.subject, reason }, "event dead-lettered");
    return { outcome: "dead-lettered", reason };
  };

  const failed = (message: JsMsg, event: IncomingEvent, error: unknown): Promise<Settled> | Settled => {
    const reason = (error as Error).message;
    const givenUp = error instanceof PoisonEventError || (!options.mustComplete && event.deliveryCount >= maxDeliver);
    if (givenUp) return deadLetter(message, event, reason);
    if (error instanceof RetryLaterError) {
      retryLater(message, event, error.delayMs, reason);
      return { outcome: "deferred", reason };
    }
    retryLater(message, event, retryDelayMs(event.deliveryCount, retryCeilingMs), reason);
    return { outcome: "failed", reason };
  };

  const settle = async (message: JsMsg, event: IncomingEvent): Promise<Settled> => {
    try {
      const { result: applied, events } = await applyOnceWithEvents(deps.orm, options.name, event, options.handler);
      if (applied) deps.onApplied?.(events);
      message.ack();
      metrics.settled(event.id);
      return { outcome: applied ? "applied" : "duplicate" };
    } catch (error) {
      return failed(message, event, error);
    }
  };

  const process = (message: JsMsg) => {
    const event = incoming(message);
    return consumeInSpan(event, options.name, () => keepingMessage(message, ackWaitMs, () => settle(message, event)));
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
