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
    /**
     * Payment's token for the order's card (PaymentService.TokenizeCard): the order never sees the card number. A
     * token pays for one order: unique when not empty (index orders_card_token).
     */
    cardToken: p.string(),
    cardLast4: p.string(),
    /** The saga's flags (see SagaState in domain/saga.ts). */
    stockReserved: p.boolean(),
    stockSettled: p.boolean(),
    paymentSettled: p.boolean(),
    /** While PENDING, when the saga is given up; from a cancel on, when its answers are due (on the database's clock). */
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

/**
 * The saga's protocol (every cancel passes through CANCELLING until inventory and payment have both answered):
 * "refunded" and "released" become what they now mean, the payment side and the stock side settled (a failed
 * charge settles payment, a rejection settles stock); "stock_reserved" says what a pending saga waits for (set from
 * the timeline for the sagas pending now). Stuck CANCELLING orders are found by their deadline.
 */
export class SagaSettledFlags extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "orders" rename column "refunded" to "payment_settled"`);
    this.addSql(`alter table "orders" rename column "released" to "stock_settled"`);
    this.addSql(`alter table "orders" add column "stock_reserved" boolean not null default false`);
    this.addSql(`update "orders" o set "stock_reserved" = true where "status" = 'PENDING' and exists
      (select 1 from "saga_step" s where s."order_id" = o."order_id" and s."trigger" = 'shop.inventory.reserved')`);
    this.addSql(`alter table "orders" alter column "stock_reserved" drop default`);
    this.addSql(
      `create index "orders_cancelling_deadline" on "orders" ("saga_deadline") where "status" = 'CANCELLING'`,
    );
  }
}

/**
 * A card token pays for one order, enforced by the database so that concurrent creates cannot both win. Orders
 * placed before this rule that shared a token keep it on the first only: payment erases a card once its order's
 * charge is final, so a later order's copy stood for nothing.
 */
export class CardTokenPaysOnce extends Migration {
  override async up(): Promise<void> {
    this.addSql(`update "orders" o set "card_token" = '' where "card_token" <> '' and exists
      (select 1 from "orders" f where f."card_token" = o."card_token"
        and (f."created_at", f."order_id") < (o."created_at", o."order_id"))`);
    this.addSql(`create unique index "orders_card_token" on "orders" ("card_token") where "card_token" <> ''`);
  }
}

export const entities = [Order, SagaStepRow];
export const migrations = [
  { name: "order-0001-tables", class: CreateOrderTables },
  { name: "order-0002-card-token", class: ReplaceCardNumberWithToken },
  { name: "order-0003-saga-settled-flags", class: SagaSettledFlags },
  { name: "order-0004-card-token-once", class: CardTokenPaysOnce },
];
