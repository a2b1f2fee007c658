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
    createdAt: p.datetime().onCreate(() => new Date()),
    publishedAt: p.datetime().nullable(),
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

export const kitEntities = [OutboxEvent, InboxEntry];
export const kitMigrations = [{ name: "kit-0001-outbox-and-inbox", class: KitOutboxAndInbox }];
