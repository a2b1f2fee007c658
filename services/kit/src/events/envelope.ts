import { randomUUID } from "node:crypto";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";

/** The headers every shop event carries (DESIGN.md: events and the saga). */
export const Header = {
  /** The event id; JetStream drops a second publish with the same id within the stream's duplicate window. */
  eventId: "Nats-Msg-Id",
  type: "Shop-Event-Type",
  /** The order the event belongs to. */
  correlationId: "Shop-Correlation-Id",
  traceparent: "traceparent",
  /** On dead letters: why the message was given up, and where it came from. */
  deadLetterReason: "Shop-Dead-Letter-Reason",
  originalSubject: "Shop-Original-Subject",
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
