// Dead letters for the dashboard's tests, published as a consumer publishes them (the kit's dead-letter headers,
// msgID `<event id>:<consumer>`) to the shop's dead-letter stream of a nats-server.
import { create, toBinary } from "@bufbuild/protobuf";
import { deadLetterSubject, ensureStreams, Header, SHOP_STREAMS } from "@mesh/kit";
import { OrderCancelledSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";

export interface SyntheticDeadLetter {
  eventId: string;
  orderId: string;
  consumer: string;
  reason: string;
}

const SUBJECT = "shop.order.cancelled";

export async function publishDeadLetters(natsUrl: string, letters: SyntheticDeadLetter[]): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    await ensureStreams(await jetstreamManager(nc), SHOP_STREAMS);
    const js = jetstream(nc);
    for (const letter of letters) {
      const headers = natsHeaders();
      headers.set(Header.eventId, letter.eventId);
      headers.set(Header.type, OrderCancelledSchema.typeName);
      headers.set(Header.correlationId, letter.orderId);
      headers.set(Header.deadLetterConsumer, letter.consumer);
      headers.set(Header.deadLetterReason, letter.reason);
      headers.set(Header.deadLetterDeliveries, "5");
      headers.set(Header.originalSubject, SUBJECT);
      headers.set(Header.deadLetteredAt, new Date().toISOString());
      const payload = toBinary(OrderCancelledSchema, create(OrderCancelledSchema, { orderId: letter.orderId }));
      await js.publish(deadLetterSubject(SUBJECT), payload, { headers, msgID: `${letter.eventId}:${letter.consumer}` });
    }
  } finally {
    await nc.close();
  }
}
