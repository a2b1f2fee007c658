// `mesh dlq`: the dead letters in JetStream (the kit's dead-letter store), listed, shown, replayed and dropped.
import { createRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { type DeadLetter, DeadLetterStore, type DeadLetterSummary, type ReplayedEvent } from "@mesh/kit/dead-letters";
import { file_shop_events_v1_events } from "@mesh/proto/shop/events/v1/events_pb";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { age } from "./age.ts";
import { table } from "./table.ts";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** A reason longer than this is cut in the listing (mesh dlq show prints it whole). */
const REASON_WIDTH = 60;

const EVENTS = createRegistry(file_shop_events_v1_events);

export function natsUrl(): string {
  return process.env.NATS_URL || DEFAULT_NATS_URL;
}

/** Runs `use` with the dead-letter store of the NATS at NATS_URL, and closes the connection after. */
export async function withDeadLetters<T>(use: (store: DeadLetterStore) => Promise<T>): Promise<T> {
  const url = natsUrl();
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({ servers: url.split(","), timeout: 3000 });
  } catch (error) {
    throw new Error(`cannot reach NATS at ${url} (set NATS_URL): ${(error as Error).message}`);
  }
  try {
    return await use(await DeadLetterStore.open(jetstream(nc)));
  } finally {
    await nc.close();
  }
}

const oneLine = (text: string, width: number) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
};

/** `mesh dlq list`: one row per dead letter, oldest first. */
export function formatDeadLetters(letters: DeadLetterSummary[], now: Date, consumer?: string): string {
  if (letters.length === 0) return consumer ? `no dead letters of ${consumer}` : "no dead letters";
  return table(
    ["seq", "consumer", "subject", "order", "deliveries", "age", "reason"],
    letters.map((letter) => [
      String(letter.seq),
      letter.consumer || "-",
      letter.subject,
      letter.correlationId || "-",
      String(letter.deliveries),
      age(now.getTime() - letter.deadLetteredAt.getTime()),
      oneLine(letter.reason, REASON_WIDTH),
    ]),
  );
}

/** The payload as the event's protobuf message in JSON, when its type is one of the shop's events; else hex. */
export function payloadText(type: string, payload: Uint8Array): string {
  const hex = () => `${payload.length} bytes, hex: ${Buffer.from(payload).toString("hex")}`;
  const schema = EVENTS.getMessage(type);
  if (!schema) return `(${type || "no type"}: not a message of shop.events.v1) ${hex()}`;
  try {
    return JSON.stringify(toJson(schema, fromBinary(schema, payload), { registry: EVENTS }), null, 2);
  } catch (error) {
    return `(does not decode as ${type}: ${(error as Error).message}) ${hex()}`;
  }
}

/** `mesh dlq show`: the dead letter's fields, every header, and the payload. */
export function formatDeadLetter(letter: DeadLetter, now: Date, stream: string): string {
  const fields: [string, string][] = [
    ["consumer", letter.consumer || "-"],
    ["subject", letter.subject],
    ["type", letter.type || "-"],
    ["event id", letter.eventId || "-"],
    ["order", letter.correlationId || "-"],
    ["deliveries", String(letter.deliveries)],
    [
      "dead-lettered",
      `${letter.deadLetteredAt.toISOString()} (${age(now.getTime() - letter.deadLetteredAt.getTime())} ago)`,
    ],
    ["reason", letter.reason || "-"],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const headers = Object.entries(letter.headers).flatMap(([name, values]) =>
    values.map((value) => `  ${name}: ${value}`),
  );
  return [
    `dead letter ${letter.seq} in ${stream}`,
    ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
    "headers",
    ...headers,
    "payload",
    payloadText(letter.type, letter.payload),
  ].join("\n");
}

export function formatReplayed(events: ReplayedEvent[]): string[] {
  return events.map(
    (event) =>
      `replayed dead letter ${event.seq}: event ${event.eventId} on ${event.subject} (msgID ${event.msgId}, stream seq ${event.eventSeq})`,
  );
}

export function dlqList(consumer: string | undefined): Promise<string> {
  return withDeadLetters(async (store) => formatDeadLetters(await store.list({ consumer }), new Date(), consumer));
}

export function dlqShow(seq: number): Promise<string> {
  return withDeadLetters(async (store) => formatDeadLetter(await store.show(seq), new Date(), store.stream));
}

export function dlqReplay(seq: number): Promise<string> {
  return withDeadLetters(async (store) => formatReplayed([await store.replay(seq)]).join("\n"));
}

export function dlqReplayAll(consumer: string): Promise<string> {
  return withDeadLetters(async (store) => {
    const { replayed, gone } = await store.replayAll({ consumer });
    if (replayed.length === 0 && gone.length === 0) return `no dead letters of ${consumer}`;
    const skipped = gone.length ? [`gone meanwhile (replayed or dropped elsewhere): ${gone.join(", ")}`] : [];
    return [...formatReplayed(replayed), ...skipped, `replayed ${replayed.length} of ${consumer}`].join("\n");
  });
}

export function dlqDrop(seq: number): Promise<string> {
  return withDeadLetters(async (store) => {
    await store.drop(seq);
    return `dropped dead letter ${seq}`;
  });
}
