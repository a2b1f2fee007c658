// The dead letters of the mesh's NATS, as the page shows them: how many per consumer, and the newest ones with the
// order each belongs to. The connection is made on the first read and kept (nats.js reconnects it); one that cannot
// be made is tried again on the next read.
import { DeadLetterStore, type DeadLetterSummary } from "@mesh/kit/dead-letters";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** Dead letters listed one by one on the page; the counts cover all of them. */
export const RECENT_DEAD_LETTERS = 50;

export interface DeadLetterRow {
  seq: number;
  consumer: string;
  subject: string;
  type: string;
  eventId: string;
  /** The order (the event's correlation id), which the page links to its trace. */
  orderId: string;
  reason: string;
  deliveries: number;
  deadLetteredAt: string;
}

export interface DeadLetterView {
  total: number;
  byConsumer: { consumer: string; count: number }[];
  /** Newest first. */
  recent: DeadLetterRow[];
}

export function deadLetterView(letters: DeadLetterSummary[]): DeadLetterView {
  const counts = new Map<string, number>();
  for (const letter of letters) counts.set(letter.consumer, (counts.get(letter.consumer) ?? 0) + 1);
  return {
    total: letters.length,
    byConsumer: [...counts]
      .map(([consumer, count]) => ({ consumer, count }))
      .sort((a, b) => b.count - a.count || a.consumer.localeCompare(b.consumer)),
    recent: letters
      .slice(-RECENT_DEAD_LETTERS)
      .reverse()
      .map((letter) => ({
        seq: letter.seq,
        consumer: letter.consumer,
        subject: letter.subject,
        type: letter.type,
        eventId: letter.eventId,
        orderId: letter.correlationId,
        reason: letter.reason,
        deliveries: letter.deliveries,
        deadLetteredAt: letter.deadLetteredAt.toISOString(),
      })),
  };
}

export class DeadLetterReader {
  private nc: NatsConnection | undefined;
  private store: Promise<DeadLetterStore> | undefined;

  constructor(
    private readonly natsUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async read(): Promise<DeadLetterView> {
    return deadLetterView(await (await this.open()).list());
  }

  async close(): Promise<void> {
    this.store = undefined;
    await this.nc?.close().catch(() => undefined);
    this.nc = undefined;
  }

  private open(): Promise<DeadLetterStore> {
    this.store ??= (async () => {
      try {
        this.nc = await connect({
          servers: this.natsUrl.split(","),
          timeout: this.timeoutMs,
          maxReconnectAttempts: -1,
        });
        return await DeadLetterStore.open(jetstream(this.nc, { timeout: this.timeoutMs }));
      } catch (error) {
        await this.close();
        throw new Error(`cannot reach NATS at ${this.natsUrl}: ${(error as Error).message}`);
      }
    })();
    return this.store;
  }
}
