import { type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";

export interface EventStreams {
  /** The stream of domain events, for example SHOP_EVENTS on shop.> */
  events: { name: string; subjects: string[] };
  /** Where consumers put what they gave up on, for example SHOP_DEAD_LETTERS on dlq.shop.> */
  deadLetters: { name: string; subjects: string[] };
  /** JetStream drops a second publish with the same msgID within this window. */
  duplicateWindowMs: number;
}

export const SHOP_STREAMS: EventStreams = {
  events: { name: "SHOP_EVENTS", subjects: ["shop.>"] },
  deadLetters: { name: "SHOP_DEAD_LETTERS", subjects: ["dlq.shop.>"] },
  duplicateWindowMs: 2 * 60_000,
};

/** The dead-letter subject of an event subject: `dlq.` in front. */
export function deadLetterSubject(subject: string): string {
  return `dlq.${subject}`;
}

/** Creates the streams, or updates their subjects and window when they exist (safe to run from every instance). */
export async function ensureStreams(jsm: JetStreamManager, streams: EventStreams): Promise<void> {
  for (const stream of [streams.events, streams.deadLetters]) {
    const config = {
      name: stream.name,
      subjects: stream.subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: streams.duplicateWindowMs * 1_000_000,
    };
    try {
      await jsm.streams.info(stream.name);
      await jsm.streams.update(stream.name, config);
    } catch (error) {
      if (!/stream not found/i.test((error as Error).message)) throw error;
      await jsm.streams.add(config);
    }
  }
}
