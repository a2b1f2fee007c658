import { setTimeout as sleep } from "node:timers/promises";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { OutboxEvent } from "../db/kit-tables.ts";
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

/** What publishing needs of an outbox row. */
type OutboxRow = Pick<OutboxEvent, "id" | "subject" | "type" | "correlationId" | "traceparent" | "payload">;

/**
 * The rows a sweep takes, by the database's clock: unpublished, not waiting after JetStream refused them, and,
 * when olderThanMs is above 0, written longer ago than that.
 */
function dueRows(olderThanMs: number): { where: string; params: number[] } {
  const due = `"published_at" is null and ("retry_at" is null or "retry_at" <= now())`;
  return olderThanMs > 0
    ? { where: `${due} and "created_at" < now() - ? * interval '1 millisecond'`, params: [olderThanMs] }
    : { where: due, params: [] };
}

interface PublishOutcome {
  row: OutboxRow;
  error?: Error;
}

/** What one sweep did. */
interface Sweep {
  claimed: number;
  published: number;
  /** Why the rows failed when no row got an answer from JetStream (NATS, or the stream's leader, away). */
  unanswered?: Error;
}

/** Marks rows published, by the database's clock; takes their ids. */
function markPublished(count: number): string {
  return `update "outbox" set "published_at" = now() where "id" in (${Array.from({ length: count }, () => "?").join(", ")})`;
}

/** Rows marked published per statement at most. */
const MARK_CHUNK = 500;
/**
 * How long an ack waits for others before the statement that marks them all runs: marking is not on any saga's
 * path (only a sweep reads it, after sweepAfterMs), so a few events per statement are worth a short wait.
 */
const MARK_LINGER_MS = 50;

/**
 * The wait before a sweep tries again a row JetStream refused: doubling from a second, at most a minute, so a row
 * that always fails costs a publish a minute.
 */
const REFUSED_ROW_RETRY = `least(interval '1 minute', interval '1 second' * power(2, "publish_attempts"))`;

/**
 * Publishes outbox rows to JetStream and marks them published, in two ways:
 * - the rows a transaction wrote are published as soon as it commits (publishCommitted), from memory, their acks
 *   awaited together, and marked published in batches, one statement for all the acks that arrived meanwhile;
 * - a sweep claims unpublished rows with `for update skip locked` (so several instances never publish the same row
 *   at once), publishes and marks them in one transaction: rows whose instance died before publishing or marking,
 *   rows NATS refused while it was down, and, when woken, every row.
 * Either may publish a row twice (a crash between publishing and marking, a sweep meeting a row still in flight):
 * the msgID is the row's id, so JetStream's duplicate window drops the second, and consumers apply an event once.
 * Each row of a sweep is published on its own: one that fails does not hold back the others. When JetStream is
 * answering (another row of the sweep was stored, or the row itself was refused), the row is to blame: it waits
 * (retry_at, growing) so that the next sweeps take the rows behind it. When no row got an answer, NATS is away, not
 * the rows to blame: the sweep fails and the relay tries again soon (after an outage, at once).
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
    return (await this.sweep(olderThanMs)).published;
  }

  private async sweep(olderThanMs: number): Promise<Sweep> {
    const due = dueRows(olderThanMs);
    // Almost every sweep finds nothing: one indexed read says so, where the claim costs BEGIN, a locking read, COMMIT.
    const any = await this.orm.em
      .getConnection()
      .execute(`select 1 from "outbox" where ${due.where} limit 1`, due.params);
    if (any.length === 0) return { claimed: 0, published: 0 };
    const sweep = await this.orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<OutboxRow[]>(
        `select "id", "subject", "type", "correlation_id" as "correlationId", "traceparent", "payload"
        from "outbox" where ${due.where} order by "created_at" limit ? for update skip locked`,
        [...due.params, this.batchSize],
      );
      // Sent in order on one connection, so JetStream stores them in order; the acks are awaited together.
      const outcomes = await Promise.all(rows.map((row) => this.publishSettled(row)));
      const published = outcomes.flatMap(({ row, error }) => (error ? [] : [row.id]));
      const failures = outcomes.filter((outcome) => outcome.error);
      const answered = published.length > 0;
      const refused = ({ error }: PublishOutcome) => answered || error instanceof JetStreamApiError;
      if (published.length > 0) await em.execute(markPublished(published.length), published);
      for (const failure of failures.filter(refused)) await this.retryLater(em, failure);
      const unanswered = failures.find((failure) => !refused(failure))?.error;
      return { claimed: rows.length, published: published.length, unanswered };
    });
    if (sweep.unanswered !== undefined) throw sweep.unanswered;
    return sweep;
  }

  private publishSettled(row: OutboxRow): Promise<PublishOutcome> {
    return this.publish(row).then(
      () => ({ row }),
      (error: unknown) => ({ row, error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }

  /** A row JetStream refused waits before a sweep takes it again; the rows behind it go meanwhile. */
  private async retryLater(em: EntityManager, { row, error }: PublishOutcome) {
    const reason = error?.message ?? "";
    const [marked] = await em.execute<{ attempts: number }[]>(
      `update "outbox" set "publish_attempts" = "publish_attempts" + 1, "retry_at" = now() + ${REFUSED_ROW_RETRY},
      "last_error" = ? where "id" = ? returning "publish_attempts" as "attempts"`,
      [reason.slice(0, 1024), row.id],
    );
    this.log.warn(
      { event: row.id, subject: row.subject, attempts: marked?.attempts, err: reason },
      "JetStream refused an outbox row; it waits, the rows behind it go on",
    );
  }

  private publish(row: OutboxRow) {
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
        await this.orm.em.getConnection().execute(markPublished(ids.length), ids);
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
        const { claimed } = await this.sweep(everything ? 0 : this.sweepAfterMs);
        if (failures > 0) this.log.info("outbox relay publishing again");
        failures = 0;
        if (claimed === this.batchSize || this.pending) continue;
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
