import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type InferEntity } from "@mikro-orm/postgresql";
import type { OrderState } from "../domain/saga.ts";

export interface StoredLine {
  productId: string;
  quantity: number;
  unitPriceMinor: number;
}

export const Order = defineEntity({
  name: "Order",
  tableName: "orders",
  properties: (p) => ({
    orderId: p.uuid().primary(),
    requestId: p.string().unique(),
    customerId: p.string(),
    lines: p.json<StoredLine[]>(),
    totalMinor: p.bigint("number"),
    currency: p.string(),
    status: p.string().$type<OrderState>(),
    cancelReason: p.string(),
    /** Payment's token for the order's card (PaymentService.TokenizeCard): the order never sees the card number. */
    cardToken: p.string(),
    cardLast4: p.string(),
    refunded: p.boolean(),
    released: p.boolean(),
    sagaDeadline: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  }),
});
export type Order = InferEntity<typeof Order>;

/** One step of an order's saga, as the timeline shows it. */
export const SagaStepRow = defineEntity({
  name: "SagaStepRow",
  tableName: "saga_step",
  properties: (p) => ({
    id: p.uuid().primary(),
    orderId: p.uuid().index(),
    time: p.datetime(),
    trigger: p.string(),
    fromStatus: p.string().$type<OrderState>(),
    toStatus: p.string().$type<OrderState>(),
    detail: p.string(),
    eventId: p.string(),
  }),
});
export type SagaStepRow = InferEntity<typeof SagaStepRow>;

export class CreateOrderTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "orders" (
      "order_id" uuid primary key, "request_id" varchar(255) not null unique, "customer_id" varchar(255) not null,
      "lines" jsonb not null, "total_minor" bigint not null, "currency" varchar(3) not null, "status" varchar(16) not null,
      "cancel_reason" varchar(1024) not null, "card_number" varchar(32) not null, "refunded" boolean not null,
      "released" boolean not null, "saga_deadline" timestamptz not null, "created_at" timestamptz not null,
      "updated_at" timestamptz not null)`);
    this.addSql(`create index "orders_pending_deadline" on "orders" ("saga_deadline") where "status" = 'PENDING'`);
    this.addSql(`create index "orders_customer" on "orders" ("customer_id", "created_at")`);
    this.addSql(`create table "saga_step" (
      "id" uuid primary key, "order_id" uuid not null, "time" timestamptz not null,
      "trigger" varchar(255) not null, "from_status" varchar(16) not null, "to_status" varchar(16) not null,
      "detail" varchar(1024) not null, "event_id" varchar(255) not null)`);
    this.addSql(`create index "saga_step_order" on "saga_step" ("order_id", "time")`);
  }
}

/**
 * Card numbers leave the order database: orders keep payment's card token and the last four digits. The numbers
 * already stored are dropped with their column, and so are the OrderCreated events in the outbox that carried them
 * (published ones are history; an unpublished one's saga never started, and the deadline sweeper cancels it).
 */
export class ReplaceCardNumberWithToken extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "orders" add column "card_token" varchar(64) not null default '',
      add column "card_last4" varchar(4) not null default ''`);
    this.addSql(`update "orders" set "card_last4" = right("card_number", 4)`);
    this.addSql(`alter table "orders" drop column "card_number",
      alter column "card_token" drop default, alter column "card_last4" drop default`);
    this.addSql(`delete from "outbox" where "type" = 'shop.events.v1.OrderCreated'`);
  }
}

export const entities = [Order, SagaStepRow];
export const migrations = [
  { name: "order-0001-tables", class: CreateOrderTables },
  { name: "order-0002-card-token", class: ReplaceCardNumberWithToken },
];
