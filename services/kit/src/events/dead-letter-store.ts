// Dead letters as people handle them (`mesh dlq`, the dashboard): list, show, replay onto the original subject, drop.
// A dead letter's id for people is its sequence in the dead-letter stream. Depends on JetStream and the envelope's
// header names only, so tools can use it without the rest of the kit.
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import { Header } from "./envelope.ts";
import { SHOP_STREAMS } from "./streams.ts";

type Headers = StoredMsg["header"];

/** One dead letter, as a listing shows it. */
export interface DeadLetterSummary {
  /** Its sequence in the dead-letter stream: its id for people. */
  seq: number;
  eventId: string;
  /** The consumer that gave up on the event. */
  consumer: string;
  /** The event's original subject. */
  subject: string;
  /** The event's type (its protobuf message's full name). */
  type: string;
  reason: string;
  deliveries: number;
  deadLetteredAt: Date;
  /** The order the event belongs to. */
  correlationId: string;
  traceparent: string | undefined;
}

/** One dead letter in full: also its payload and every header it carries. */
export interface DeadLetter extends DeadLetterSummary {
  payload: Uint8Array;
  headers: Record<string, string[]>;
}

export interface ReplayedEvent {
  /** The dead letter's sequence (it is deleted now). */
  seq: number;
  eventId: string;
  subject: string;
  /** The JetStream msgID it was published with: `<event id>:replay:<seq>`. */
  msgId: string;
  /** Its sequence in the events stream. */
  eventSeq: number;
}

/** A dead letter that is not (or no longer) in the stream. */
export class DeadLetterNotFound extends Error {
  constructor(
    readonly seq: number,
    stream: string,
  ) {
    super(`dead letter ${seq} is not in ${stream} (replayed or dropped already?)`);
    this.name = "DeadLetterNotFound";
  }
}

/** The headers a consumer adds to an event it dead-letters, beside the event's own. */
const DEAD_LETTER_HEADERS = [
  Header.deadLetterConsumer,
  Header.deadLetterReason,
  Header.deadLetterDeliveries,
  Header.originalSubject,
  Header.deadLetteredAt,
];

/** JetStream's answers to deleting a sequence the stream does not hold: deleted, or past its end ("stream store EOF"). */
const NOT_HELD = new Set<number>([JetStreamApiCodes.NoMessageFound, 10057]);

function summaryOf(seq: number, subject: string, headers: Headers | undefined, storedAt: Date): DeadLetterSummary {
  const header = (name: string) => headers?.get(name) || "";
  const at = new Date(header(Header.deadLetteredAt));
  return {
    seq,
    // A dead letter stored before the event id header existed carries the event's id as its msgID only.
    eventId: header(Header.eventId) || header(Header.msgId),
    consumer: header(Header.deadLetterConsumer),
    subject: header(Header.originalSubject) || subject.replace(/^dlq\./, ""),
    type: header(Header.type),
    reason: header(Header.deadLetterReason),
    deliveries: Number(header(Header.deadLetterDeliveries)) || 0,
    deadLetteredAt: Number.isNaN(at.getTime()) ? storedAt : at,
    correlationId: header(Header.correlationId),
    traceparent: header(Header.traceparent) || undefined,
  };
}

function allHeaders(headers: Headers): Record<string, string[]> {
  return Object.fromEntries(headers.keys().map((name) => [name, headers.values(name)]));
}

export class DeadLetterStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** The dead-letter stream (default SHOP_DEAD_LETTERS, on dlq.shop.>). */
    readonly stream: string = SHOP_STREAMS.deadLetters.name,
  ) {}

  static async open(js: JetStreamClient, stream?: string): Promise<DeadLetterStore> {
    return new DeadLetterStore(js, await js.jetstreamManager(), stream);
  }

  /** Every dead letter (of one consumer, when given), oldest first. */
  async list(filter: { consumer?: string } = {}): Promise<DeadLetterSummary[]> {
    const count = await this.count();
    if (count === 0) return [];
    // An ordered consumer reads the stream in one pull; a fetch of the stream's count ends as soon as that many
    // came, or, if some were deleted meanwhile, when the pull expires.
    const reader = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.All });
    const messages = await reader.fetch({ max_messages: count, expires: 2000 });
    const letters: DeadLetterSummary[] = [];
    for await (const message of messages) {
      const letter = summaryOf(message.seq, message.subject, message.headers, message.time);
      if (!filter.consumer || letter.consumer === filter.consumer) letters.push(letter);
      if (message.info.pending === 0) break;
    }
    await messages.close();
    return letters;
  }

  /** One dead letter with its payload and headers; DeadLetterNotFound when it is not there. */
  async show(seq: number): Promise<DeadLetter> {
    const stored = await this.stored(seq);
    return {
      ...summaryOf(stored.seq, stored.subject, stored.header, stored.time),
      payload: stored.data,
      headers: allHeaders(stored.header),
    };
  }

  /**
   * Publishes the event again on its original subject, with its event id header kept (so every consumer's inbox
   * applies it at most once) and a fresh msgID `<event id>:replay:<seq>`, then deletes the dead letter. A replay cut
   * short between the two may be repeated: JetStream drops the second publish within its duplicate window.
   */
  async replay(seq: number): Promise<ReplayedEvent> {
    const stored = await this.stored(seq);
    const letter = summaryOf(stored.seq, stored.subject, stored.header, stored.time);
    const headers = stored.header;
    for (const name of DEAD_LETTER_HEADERS) headers.delete(name);
    headers.set(Header.eventId, letter.eventId);
    const msgId = `${letter.eventId}:replay:${seq}`;
    const ack = await this.js.publish(letter.subject, stored.data, { headers, msgID: msgId });
    await this.delete(seq);
    return { seq, eventId: letter.eventId, subject: letter.subject, msgId, eventSeq: ack.seq };
  }

  /** Replays every dead letter of a consumer, oldest first; those gone meanwhile (replayed elsewhere) are skipped. */
  async replayAll(filter: { consumer: string }): Promise<{ replayed: ReplayedEvent[]; gone: number[] }> {
    const replayed: ReplayedEvent[] = [];
    const gone: number[] = [];
    for (const letter of await this.list(filter)) {
      try {
        replayed.push(await this.replay(letter.seq));
      } catch (error) {
        if (!(error instanceof DeadLetterNotFound)) throw error;
        gone.push(letter.seq);
      }
    }
    return { replayed, gone };
  }

  /** Deletes a dead letter for good; DeadLetterNotFound when it is not there. */
  async drop(seq: number): Promise<void> {
    await this.delete(seq);
  }

  /** How many dead letters the stream holds. */
  private async count(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.stream)).state.messages;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
      throw new Error(
        `there is no stream ${this.stream} here: the services create it when they start (the mesh's NATS?)`,
      );
    }
  }

  private async stored(seq: number): Promise<StoredMsg> {
    const stored = await this.jsm.streams.getMessage(this.stream, { seq });
    if (!stored) throw new DeadLetterNotFound(seq, this.stream);
    return stored;
  }

  private async delete(seq: number): Promise<void> {
    try {
      await this.jsm.streams.deleteMessage(this.stream, seq, false);
    } catch (error) {
      if (error instanceof JetStreamApiError && NOT_HELD.has(error.code))
        throw new DeadLetterNotFound(seq, this.stream);
      throw error;
    }
  }
}
