import { setTimeout as sleep } from "node:timers/promises";
import { type FilterQuery, LockMode, type MikroORM } from "@mikro-orm/postgresql";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { OutboxEvent } from "../db/kit-tables.ts";
import { publishInSpan } from "../tracing/messaging-spans.ts";
import { envelopeHeaders } from "./envelope.ts";

export interface OutboxRelayOptions {
  /** Rows claimed per sweep transaction. */
  batchSize?: number;
  /** How often to sweep for rows nobody published (other instances' rows, retries after NATS failures). */
  pollIntervalMs?: number;
  /** How long to wait for JetStream's ack of one publish before leaving the row to a later sweep. */
  publishTimeoutMs?: number;
  /**
   * The periodic sweep takes rows older than this only: younger ones are still being published by the instance
   * that committed them.
   */
  sweepAfterMs?: number;
}

/** The rows a sweep takes: unpublished, and older than olderThanMs when that is above 0. */
function unpublishedRows(olderThanMs: number): FilterQuery<OutboxEvent> {
  return olderThanMs > 0
    ? { publishedAt: null, createdAt: { $lt: new Date(Date.now() - olderThanMs) } }
    : { publishedAt: null };
}

/** Rows marked published per statement at most. */
const MARK_CHUNK = 500;
/**
 * How long an ack waits for others before the statement that marks them all runs: marking is not on any saga's
 * path (only a sweep reads it, after sweepAfterMs), so a few events per statement are worth a short wait.
 */
const MARK_LINGER_MS = 50;

/**
 * Publishes outbox rows to JetStream and marks them published, in two ways:
 * - the rows a transaction wrote are published as soon as it commits (publishCommitted), from memory, their acks
 *   awaited together, and marked published in batches, one statement for all the acks that arrived meanwhile;
 * - a sweep claims unpublished rows with `for update skip locked` (so several instances never publish the same row
 *   at once), publishes and marks them in one transaction: rows whose instance died before publishing or marking,
 *   rows NATS refused while it was down, and, when woken, every row.
 * Either may publish a row twice (a crash between publishing and marking, a sweep meeting a row still in flight):
 * the msgID is the row's id, so JetStream's duplicate window drops the second, and consumers apply an event once.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pending = false;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly publishTimeoutMs: number;
  private readonly sweepAfterMs: number;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly acked: string[] = [];
  private marking: Promise<void> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly js: JetStreamClient,
    private readonly log: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 1000;
    this.sweepAfterMs = options.sweepAfterMs ?? 2000;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Publishes the rows a transaction wrote, now that it has committed; one that fails waits for a sweep. */
  publishCommitted(rows: readonly OutboxEvent[]): void {
    for (const row of rows) {
      const publishing: Promise<void> = this.publish(row)
        .then(() => this.markLater(row.id))
        .catch((error: unknown) => this.log.debug({ err: (error as Error).message }, "left to the sweep"))
        .finally(() => this.inFlight.delete(publishing));
      this.inFlight.add(publishing);
    }
  }

  /** Sweeps every unpublished row at once instead of at the next poll (rows written without publishCommitted). */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Publishes what is pending (when NATS is reachable), then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await Promise.all(this.inFlight);
    await this.marking;
    await this.publishBatch().catch(() => 0);
  }

  /** Sweeps one batch of unpublished rows (only those older than olderThanMs); returns how many it published. */
  async publishBatch(olderThanMs = 0): Promise<number> {
    const unpublished = unpublishedRows(olderThanMs);
    // Almost every sweep finds nothing: one indexed read says so, where the claim costs BEGIN, a locking read, COMMIT.
    if (!(await this.orm.em.fork().findOne(OutboxEvent, unpublished, { fields: ["id"] }))) return 0;
    return this.orm.em.fork().transactional(async (em) => {
      const rows = await em.find(OutboxEvent, unpublished, {
        orderBy: { createdAt: "asc" },
        limit: this.batchSize,
        lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
      });
      // Sent in order on one connection, so JetStream stores them in order; the acks are awaited together.
      await Promise.all(rows.map((row) => this.publish(row)));
      const now = new Date();
      for (const row of rows) row.publishedAt = now;
      return rows.length;
    });
  }

  private publish(row: OutboxEvent) {
    return publishInSpan(row, (traceparent) =>
      this.js.publish(row.subject, row.payload, {
        msgID: row.id,
        // An ack lost with a dying server would otherwise hold the row for the client's whole request timeout.
        timeout: this.publishTimeoutMs,
        headers: envelopeHeaders({
          eventId: row.id,
          type: row.type,
          correlationId: row.correlationId,
          traceparent,
        }),
      }),
    );
  }

  /** Marks a published row; the acks that arrive while one statement runs go together in the next. */
  private markLater(id: string) {
    this.acked.push(id);
    this.marking ??= this.markAcked();
  }

  private async markAcked() {
    try {
      if (this.running) await sleep(MARK_LINGER_MS);
      await this.markUntilNoneLeft();
    } finally {
      // In the same turn as the last check for rows left: an ack arriving next starts a new round.
      this.marking = undefined;
    }
  }

  private async markUntilNoneLeft() {
    let failures = 0;
    while (this.acked.length > 0) {
      const ids = this.acked.splice(0, MARK_CHUNK);
      try {
        await this.orm.em
          .getConnection()
          .execute(`update "outbox" set "published_at" = now() where "id" in (${ids.map(() => "?").join(", ")})`, ids);
        failures = 0;
      } catch (error) {
        // The database is away: unmarked rows are only published again by a sweep, which JetStream deduplicates.
        this.acked.unshift(...ids);
        if (++failures === 1) this.log.warn({ err: (error as Error).message }, "cannot mark published rows; retrying");
        if (!this.running) return;
        await sleep(Math.min(1000, 100 * 2 ** Math.min(failures, 4)));
      }
    }
  }

  private async run() {
    let failures = 0;
    while (this.running) {
      const everything = this.pending;
      this.pending = false;
      try {
        const published = await this.publishBatch(everything ? 0 : this.sweepAfterMs);
        if (failures > 0) this.log.info("outbox relay publishing again");
        failures = 0;
        if (published === this.batchSize || this.pending) continue;
        await this.idle(this.pollIntervalMs);
      } catch (error) {
        failures++;
        if (failures === 1) this.log.warn({ err: (error as Error).message }, "outbox relay cannot publish; retrying");
        this.pending ||= everything;
        await sleep(Math.min(1000, 100 * 2 ** Math.min(failures, 4)));
      }
    }
  }

  private idle(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
