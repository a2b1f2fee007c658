import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import { Reservation, type ReservationState } from "./entities.ts";

// Lock order of every inventory step: the order's reservation row first (lockReservation, or the primary key of the
// row insertReservation writes), then the products it touches, sorted by id (lockProducts). No step takes them the
// other way round, so two steps never wait on each other in a cycle; steps of one order apply one after the other.

/**
 * The order's reservation, locked (`select ... for update`) until the transaction ends, or null when the order has
 * none yet. Under a concurrent step of the same order this waits for it to commit and reads what it wrote.
 */
export function lockReservation(em: EntityManager, orderId: string): Promise<Reservation | null> {
  return em.findOne(Reservation, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
}

export interface NewReservation {
  orderId: string;
  status: ReservationState;
  lines: { productId: string; quantity: number }[];
  reason: string;
}

/**
 * Inserts the order's reservation unless it has one; returns whether it did (the row is then this transaction's
 * until it ends). A concurrent step inserting the same order's row makes this wait for it (the primary key): once
 * that one commits this inserts nothing, so the race ends in a `false` to act on, not in a failed event.
 */
export async function insertReservation(em: EntityManager, row: NewReservation): Promise<boolean> {
  const now = new Date();
  const result = await em
    .createQueryBuilder(Reservation)
    .insert({ ...row, createdAt: now, updatedAt: now })
    .onConflict(["order_id"])
    .ignore()
    .execute("run");
  return result.affectedRows === 1;
}

/** Turns a reservation this transaction inserted into a rejection: nothing held, and why. */
export async function rejectReservation(em: EntityManager, orderId: string, reason: string): Promise<void> {
  await em.nativeUpdate(Reservation, { orderId }, { status: "REJECTED", lines: [], reason, updatedAt: new Date() });
}
