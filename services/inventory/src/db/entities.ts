import { Migration } from "@mikro-orm/migrations";
import { defineEntity, type InferEntity } from "@mikro-orm/postgresql";

export const Product = defineEntity({
  name: "Product",
  tableName: "product",
  properties: (p) => ({
    productId: p.string().primary(),
    name: p.string(),
    description: p.string(),
    priceMinor: p.bigint("number"),
    currency: p.string(),
    available: p.integer(),
    reserved: p.integer(),
    sold: p.integer(),
  }),
});
export type Product = InferEntity<typeof Product>;

export type ReservationState = "RESERVED" | "COMMITTED" | "RELEASED" | "REJECTED";

/** The stock held for one order; a row exists from the first event about the order (even a cancel), so late or
 * out-of-order events cannot hold stock for an order that is already over. */
export const Reservation = defineEntity({
  name: "Reservation",
  tableName: "reservation",
  properties: (p) => ({
    orderId: p.string().primary(),
    status: p.string().$type<ReservationState>(),
    lines: p.json<{ productId: string; quantity: number }[]>(),
    reason: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  }),
});
export type Reservation = InferEntity<typeof Reservation>;

/** An applied stock adjustment; its id makes AdjustStock idempotent. */
export const Adjustment = defineEntity({
  name: "Adjustment",
  tableName: "adjustment",
  properties: (p) => ({
    adjustmentId: p.string().primary(),
    productId: p.string(),
    delta: p.integer(),
    reason: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type Adjustment = InferEntity<typeof Adjustment>;

export class CreateInventoryTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "product" (
      "product_id" varchar(255) primary key, "name" varchar(255) not null, "description" varchar(1024) not null,
      "price_minor" bigint not null, "currency" varchar(3) not null,
      "available" int not null check ("available" >= 0), "reserved" int not null check ("reserved" >= 0),
      "sold" int not null check ("sold" >= 0))`);
    this.addSql(`create table "reservation" (
      "order_id" varchar(255) primary key, "status" varchar(16) not null, "lines" jsonb not null,
      "reason" varchar(1024) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null)`);
    this.addSql(`create table "adjustment" (
      "adjustment_id" varchar(255) primary key, "product_id" varchar(255) not null references "product",
      "delta" int not null, "reason" varchar(1024) not null, "created_at" timestamptz not null)`);
  }
}

/**
 * InventoryReserved events used to carry the order's card number; they now carry payment's card token. The ones in
 * the outbox go (published ones are history; an unpublished one's order is cancelled by its saga deadline, which
 * releases the stock).
 */
export class DropCardCarryingEvents extends Migration {
  override async up(): Promise<void> {
    this.addSql(`delete from "outbox" where "type" = 'shop.events.v1.InventoryReserved'`);
  }
}

export const entities = [Product, Reservation, Adjustment];
export const migrations = [
  { name: "inventory-0001-tables", class: CreateInventoryTables },
  { name: "inventory-0002-no-card-numbers", class: DropCardCarryingEvents },
];
