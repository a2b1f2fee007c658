import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type InferEntity } from "@mikro-orm/postgresql";
import type { PaymentState } from "../domain/payment-state.ts";

export type { PaymentState } from "../domain/payment-state.ts";

/** The one charge of an order. A row exists from the first event about the order (even a cancel), so a late
 * InventoryReserved never charges an order that is already over. */
export const Payment = defineEntity({
  name: "Payment",
  tableName: "payment",
  properties: (p) => ({
    paymentId: p.uuid().primary(),
    orderId: p.string().unique(),
    amountMinor: p.bigint("number"),
    currency: p.string(),
    status: p.string().$type<PaymentState>(),
    providerChargeId: p.string(),
    failureReason: p.string(),
    cardLast4: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  }),
});
export type Payment = InferEntity<typeof Payment>;

export class CreatePaymentTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "payment" (
      "payment_id" uuid primary key, "order_id" varchar(255) not null unique,
      "amount_minor" bigint not null, "currency" varchar(3) not null, "status" varchar(16) not null,
      "provider_charge_id" varchar(255) not null, "failure_reason" varchar(1024) not null, "card_last4" varchar(4) not null,
      "created_at" timestamptz not null, "updated_at" timestamptz not null)`);
  }
}

/**
 * A card exchanged for a token (TokenizeCard). The number is kept sealed (AES-256-GCM, see domain/card-vault.ts)
 * only until the order's charge is final or the order is cancelled; then it is erased and the token and last four
 * digits remain (refunds go by the provider's charge id, never the card).
 */
export const Card = defineEntity({
  name: "Card",
  tableName: "card",
  properties: (p) => ({
    token: p.string().primary(),
    requestId: p.string().unique(),
    last4: p.string(),
    sealedNumber: p.blob().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    erasedAt: p.datetime().nullable(),
    /** The order whose charge uses the card (see CardClaims): only that order's steps erase it. */
    claimedBy: p.string().nullable(),
  }),
});
export type Card = InferEntity<typeof Card>;

export class CreateCardTable extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "card" (
      "token" varchar(64) primary key, "request_id" varchar(255) not null unique, "last4" varchar(4) not null,
      "sealed_number" bytea null, "created_at" timestamptz not null, "erased_at" timestamptz null)`);
    this.addSql(`create index "card_sealed" on "card" ("created_at") where "sealed_number" is not null`);
  }
}

/**
 * Cards claimed by the order charging them (a cancel of another order with the same token leaves such a card alone),
 * and an index for the count of payments whose refund the gateway refused (the gauge mesh_payments_refund_failed).
 */
export class CardClaimAndRefundFailures extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "card" add column "claimed_by" varchar(255) null`);
    this.addSql(`create index "payment_refund_failed" on "payment" ("order_id") where "status" = 'REFUND_FAILED'`);
  }
}

export const entities = [Payment, Card];
export const migrations = [
  { name: "payment-0001-tables", class: CreatePaymentTables },
  { name: "payment-0002-card", class: CreateCardTable },
  { name: "payment-0003-card-claim-refund-failed", class: CardClaimAndRefundFailures },
];
