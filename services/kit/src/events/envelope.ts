import { randomUUID } from "node:crypto";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";

/** The headers every shop event carries (DESIGN.md: events and the saga). */
export const Header = {
  /**
   * The event id, which consumers' inboxes key on. The relay also makes it the JetStream msgID (`Nats-Msg-Id`, so a
   * second publish within the duplicate window is dropped), but a replayed dead letter goes out under a fresh msgID
   * and keeps this header: every inbox still knows it.
   */
  eventId: "Shop-Event-Id",
  /** JetStream's deduplication id; events published before Shop-Event-Id existed carry their id only here. */
  msgId: "Nats-Msg-Id",
  type: "Shop-Event-Type",
  /** The order the event belongs to. */
  correlationId: "Shop-Correlation-Id",
  traceparent: "traceparent",
  /** On dead letters, beside the event's own headers: which consumer gave it up, why, after how many deliveries. */
  deadLetterConsumer: "Mesh-Dead-Letter-Consumer",
  deadLetterReason: "Mesh-Dead-Letter-Reason",
  deadLetterDeliveries: "Mesh-Dead-Letter-Deliveries",
  /** On dead letters: the subject the event came on, and when (ISO time) it was given up. */
  originalSubject: "Mesh-Original-Subject",
  deadLetteredAt: "Mesh-Dead-Lettered-At",
} as const;

/** An event about to be written to the outbox. */
export interface OutgoingEvent<Desc extends DescMessage = DescMessage> {
  subject: string;
  schema: Desc;
  message: MessageShape<Desc>;
  correlationId: string;
  traceparent?: string;
  /** Default: a new UUID. */
  eventId?: string;
}

export function newEventId(): string {
  return randomUUID();
}

export function envelopeHeaders(fields: {
  eventId: string;
  type: string;
  correlationId: string;
  traceparent?: string | null;
}): MsgHdrs {
  const headers = natsHeaders();
  headers.set(Header.eventId, fields.eventId);
  headers.set(Header.type, fields.type);
  headers.set(Header.correlationId, fields.correlationId);
  if (fields.traceparent) headers.set(Header.traceparent, fields.traceparent);
  return headers;
}
