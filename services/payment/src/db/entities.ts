import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type InferEntity } from "@mikro-orm/postgresql";

export type PaymentState = "PENDING" | "CAPTURED" | "DECLINED" | "REFUNDED" | "FAILED";

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

export const entities = [Payment];
export const migrations = [{ name: "payment-0001-tables", class: CreatePaymentTables }];
