import type { EntityManager } from "@mikro-orm/postgresql";
import type { OrderState, SagaState } from "../domain/saga.ts";

// Saga deadlines live on the database's clock, which every order instance shares: an instance whose own clock is
// off (or jumps) neither cancels sagas early, nor lets them run late, nor reports them stuck wrongly.

/** A raw query's timestamptz comes back as the driver gives it: a Date, or text in PostgreSQL's format. */
const asDate = (value: Date | string) => new Date(value);

/** The database's now plus `timeoutMs`: a saga's deadline. Runs on `em`'s connection (inside its transaction). */
export async function databaseDeadline(em: EntityManager, timeoutMs: number): Promise<Date> {
  const [row] = await em.execute<{ deadline: Date | string }[]>("select now() + make_interval(secs => ?) as deadline", [
    timeoutMs / 1000,
  ]);
  return asDate((row as { deadline: Date | string }).deadline);
}

export interface StuckOrderRow extends SagaState {
  orderId: string;
  sagaDeadline: Date;
  /** Whole seconds since the deadline passed. */
  stuckForSeconds: bigint;
}

/** Unfinished sagas whose deadline plus the grace period has passed: the index on each status serves it. */
const STUCK = `from "orders" where "status" in ('PENDING', 'CANCELLING')
  and "saga_deadline" < now() - make_interval(secs => ?)`;

/** Stuck sagas, oldest deadline first. */
export async function findStuckOrders(em: EntityManager, graceMs: number, limit: number): Promise<StuckOrderRow[]> {
  const rows = await em.execute<
    {
      order_id: string;
      status: OrderState;
      saga_deadline: Date | string;
      stock_reserved: boolean;
      stock_settled: boolean;
      payment_settled: boolean;
      stuck_for_seconds: string;
    }[]
  >(
    `select "order_id", "status", "saga_deadline", "stock_reserved", "stock_settled", "payment_settled",
      floor(extract(epoch from now() - "saga_deadline"))::bigint as "stuck_for_seconds"
      ${STUCK} order by "saga_deadline" limit ?`,
    [graceMs / 1000, limit],
  );
  return rows.map((row) => ({
    orderId: row.order_id,
    status: row.status,
    sagaDeadline: asDate(row.saga_deadline),
    stockReserved: row.stock_reserved,
    stockSettled: row.stock_settled,
    paymentSettled: row.payment_settled,
    stuckForSeconds: BigInt(row.stuck_for_seconds),
  }));
}

/** How many sagas are stuck. */
export async function countStuckOrders(em: EntityManager, graceMs: number): Promise<number> {
  const [row] = await em.execute<{ stuck: number }[]>(`select count(*)::int as "stuck" ${STUCK}`, [graceMs / 1000]);
  return row?.stuck ?? 0;
}
