import { randomUUID } from "node:crypto";
import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import { Payment } from "./entities.ts";

/**
 * The order's payment, locked for the caller's transaction. When there is none yet, a PENDING row is inserted first,
 * and the order's charge can no longer start: a charge inserts the same row before it sends anything, so it waits
 * for this transaction and then finds the order decided. A charge already in flight holds its own uncommitted row:
 * the insert waits for it, does nothing, and its outcome is locked instead.
 */
export async function lockPaymentOf(em: EntityManager, orderId: string, cardLast4: string): Promise<Payment> {
  const locked = () => em.findOne(Payment, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  const existing = await locked();
  if (existing) return existing;
  const now = new Date();
  await em
    .createQueryBuilder(Payment)
    .insert({
      paymentId: randomUUID(),
      orderId,
      amountMinor: 0,
      currency: "USD",
      status: "PENDING",
      providerChargeId: "",
      failureReason: "",
      cardLast4,
      createdAt: now,
      updatedAt: now,
    })
    .onConflict("order_id")
    .ignore()
    .execute("run");
  const payment = await locked();
  if (!payment) throw new Error(`the payment of order ${orderId} was neither found nor inserted`);
  return payment;
}
