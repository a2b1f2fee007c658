import { setTimeout as sleep } from "node:timers/promises";
import { LockMode, type MikroORM } from "@mikro-orm/postgresql";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { OutboxEvent } from "../db/kit-tables.ts";
import { publishInSpan } from "../tracing/messaging-spans.ts";
import { envelopeHeaders } from "./envelope.ts";

export interface OutboxRelayOptions {
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** How often to look for rows when not woken (other instances' rows, retries after NATS failures). */
  pollIntervalMs?: number;
  /** How long to wait for JetStream's ack of one publish before giving the batch up for a retry. */
  publishTimeoutMs?: number;
}

/**
 * Publishes outbox rows to JetStream and marks them published. Each batch is claimed with
 * `for update skip locked`, so several relays (several instances) never publish the same row at once; a crash
 * between publishing and marking republishes with the same msgID, which JetStream's duplicate window drops.
 * While NATS is unreachable, rows wait and the relay retries with backoff.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pending = false;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly publishTimeoutMs: number;

  constructor(
    private readonly orm: MikroORM,
    private readonly js: JetStreamClient,
    private readonly log: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 1000;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Call after a transaction that enqueued events commits: the relay publishes at once instead of at its next poll. */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Publishes what is pending (when NATS is reachable), then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await this.publishBatch().catch(() => 0);
  }

  /** Publishes one batch; returns how many rows it published. */
  async publishBatch(): Promise<number> {
    return this.orm.em.fork().transactional(async (em) => {
      const rows = await em.find(
        OutboxEvent,
        { publishedAt: null },
        { orderBy: { createdAt: "asc" }, limit: this.batchSize, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      for (const row of rows) {
        await publishInSpan(row, (traceparent) =>
          this.js.publish(row.subject, row.payload, {
            msgID: row.id,
            // An ack lost with a dying server would otherwise hold the batch for the client's whole request timeout.
            timeout: this.publishTimeoutMs,
            headers: envelopeHeaders({
              eventId: row.id,
              type: row.type,
              correlationId: row.correlationId,
              traceparent,
            }),
          }),
        );
        row.publishedAt = new Date();
      }
      return rows.length;
    });
  }

  private async run() {
    let failures = 0;
    while (this.running) {
      this.pending = false;
      try {
        const published = await this.publishBatch();
        if (failures > 0) this.log.info("outbox relay publishing again");
        failures = 0;
        if (published === this.batchSize || this.pending) continue;
        await this.idle(this.pollIntervalMs);
      } catch (error) {
        failures++;
        if (failures === 1) this.log.warn({ err: (error as Error).message }, "outbox relay cannot publish; retrying");
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
