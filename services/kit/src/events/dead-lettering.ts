import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, JetStreamManager, JsMsg, PubAck } from "@nats-io/jetstream";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { Header } from "./envelope.ts";
import { deadLetterSubject } from "./streams.ts";

/** What a dead letter says beside the event itself (contract E). */
export interface DeadLetterFacts {
  consumer: string;
  eventId: string;
  reason: string;
  deliveries: number;
}

/** Waits between the tries to store a dead letter; after the last, the event is nak'ed and comes again. */
const RETRY_DELAYS_MS = [200, 1000];

/** The longest reason a dead letter keeps. */
const MAX_REASON_LENGTH = 1024;

/** The event's own headers plus the dead letter's; the event id header always present (the inboxes key on it). */
function deadLetterHeaders(message: JsMsg, facts: DeadLetterFacts): MsgHdrs {
  const headers = natsHeaders();
  const own = message.headers;
  if (own) for (const name of own.keys()) for (const value of own.values(name)) headers.append(name, value);
  headers.set(Header.eventId, facts.eventId);
  headers.set(Header.deadLetterConsumer, facts.consumer);
  // A header value cannot hold a line break.
  headers.set(Header.deadLetterReason, facts.reason.replace(/[\r\n]+/g, " ").slice(0, MAX_REASON_LENGTH));
  headers.set(Header.deadLetterDeliveries, String(facts.deliveries));
  headers.set(Header.originalSubject, message.subject);
  headers.set(Header.deadLetteredAt, new Date().toISOString());
  return headers;
}

/**
 * Stores the dead letter of an event for one consumer, on `dlq.<subject>`, with msgID `<event id>:<consumer>`:
 * consumers that give up on the same event each keep theirs, and a publish repeated after a lost ack is dropped.
 * Tries a few times; throws when it could not (the caller must then keep the event, never terminate it).
 */
export async function storeDeadLetter(
  js: JetStreamClient,
  jsm: JetStreamManager,
  message: JsMsg,
  facts: DeadLetterFacts,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await publishOnce(js, jsm, message, facts);
    } catch (error) {
      if (attempt >= RETRY_DELAYS_MS.length) throw error;
      await sleep(RETRY_DELAYS_MS[attempt]);
    }
  }
}

/**
 * The dead letter's msgID. A replayed event (its msgID is not its event id) may fail again before the replay has
 * deleted the dead letter it came from, which has `<event id>:<consumer>`: JetStream would drop the new one as a
 * duplicate, and the replay then delete the only one. Its stream sequence (each replay has its own) keeps it apart.
 */
function deadLetterMsgId(message: JsMsg, facts: DeadLetterFacts): string {
  const msgId = `${facts.eventId}:${facts.consumer}`;
  const replayed = message.headers?.get(Header.msgId) !== facts.eventId;
  return replayed ? `${msgId}:${message.info.streamSequence}` : msgId;
}

async function publishOnce(js: JetStreamClient, jsm: JetStreamManager, message: JsMsg, facts: DeadLetterFacts) {
  const subject = deadLetterSubject(message.subject);
  const msgID = deadLetterMsgId(message, facts);
  const ack = await js.publish(subject, message.data, { msgID, headers: deadLetterHeaders(message, facts) });
  if (!ack.duplicate || (await stillStored(jsm, ack))) return;
  // Dropped as a duplicate of a dead letter deleted since (replayed, or dropped by a person) while this delivery was
  // not terminated (its term lost): the delivery's stream sequence makes it new.
  const again = `${msgID}:${message.info.streamSequence}`;
  await js.publish(subject, message.data, { msgID: again, headers: deadLetterHeaders(message, facts) });
}

/** Whether the message a duplicate publish was dropped for is still in its stream. */
async function stillStored(jsm: JetStreamManager, ack: PubAck): Promise<boolean> {
  return (await jsm.streams.getMessage(ack.stream, { seq: ack.seq })) !== null;
}
