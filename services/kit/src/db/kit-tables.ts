import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type InferEntity } from "@mikro-orm/postgresql";

/** An event written in the same transaction as the state change it reports; the relay publishes it later. */
export const OutboxEvent = defineEntity({
  name: "OutboxEvent",
  tableName: "outbox",
  properties: (p) => ({
    id: p.uuid().primary(),
    subject: p.string(),
    type: p.string(),
    correlationId: p.string(),
    traceparent: p.string().nullable(),
    payload: p.blob(),
    /** Written by the database (see KitOutboxRetries): the sweep compares it with the database's clock. */
    createdAt: p.datetime().defaultRaw("statement_timestamp()"),
    publishedAt: p.datetime().nullable(),
    /** Sweeps that failed to publish the row while JetStream was answering (see OutboxRelay). */
    publishAttempts: p.integer().default(0),
    /** When a sweep may try the row again after such a failure. */
    retryAt: p.datetime().nullable(),
    lastError: p.string().nullable(),
  }),
});
export type OutboxEvent = InferEntity<typeof OutboxEvent>;

/** An event a consumer has applied, written in the same transaction as its effect: a redelivery changes nothing. */
export const InboxEntry = defineEntity({
  name: "InboxEntry",
  tableName: "inbox",
  properties: (p) => ({
    consumer: p.string().primary(),
    eventId: p.string().primary(),
    appliedAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type InboxEntry = InferEntity<typeof InboxEntry>;

export class KitOutboxAndInbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "outbox" (
      "id" uuid primary key,
      "subject" varchar(255) not null,
      "type" varchar(255) not null,
      "correlation_id" varchar(255) not null,
      "traceparent" varchar(255) null,
      "payload" bytea not null,
      "created_at" timestamptz not null,
      "published_at" timestamptz null)`);
    this.addSql(`create index "outbox_unpublished" on "outbox" ("created_at") where "published_at" is null`);
    this.addSql(`create table "inbox" (
      "consumer" varchar(255) not null,
      "event_id" varchar(255) not null,
      "applied_at" timestamptz not null,
      primary key ("consumer", "event_id"))`);
  }
}

/**
 * The outbox's times come from the database's clock, not the app's: the instance that writes a row and the one
 * whose sweep finds it too old may run on clocks apart. A row JetStream refuses waits (retry_at) instead of
 * holding back the rows behind it.
 */
export class KitOutboxRetries extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "outbox" alter column "created_at" set default statement_timestamp()`);
    this.addSql(`alter table "outbox"
      add column "publish_attempts" int not null default 0,
      add column "retry_at" timestamptz null,
      add column "last_error" varchar(1024) null`);
  }
}

export const kitEntities = [OutboxEvent, InboxEntry];
export const kitMigrations = [
  { name: "kit-0001-outbox-and-inbox", class: KitOutboxAndInbox },
  { name: "kit-0002-outbox-retries", class: KitOutboxRetries },
];
