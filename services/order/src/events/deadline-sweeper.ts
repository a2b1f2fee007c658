import { type ServiceContext, transaction } from "@mesh/kit";
import { type FilterQuery, LockMode, raw } from "@mikro-orm/postgresql";
import { Order } from "../db/entities.ts";
import { applySagaInput } from "./saga-steps.ts";

/** Sagas still PENDING past their deadline. A new filter per query: a raw fragment is consumed by the query using it. */
function overdue(): FilterQuery<Order> {
  return { status: "PENDING", sagaDeadline: { $lt: raw<Order, Date>("now()") } };
}

/**
 * Cancels (and so compensates) sagas still PENDING past their deadline. Rows are claimed with `skip locked`, so
 * several instances sweep without doubling work. "Past" is on the database's clock, like the deadline itself: the
 * only clock the saga's deadline is judged by. Returns a function that stops the sweeper.
 */
export function startDeadlineSweeper(
  context: ServiceContext,
  { intervalMs, sagaTimeoutMs }: { intervalMs: number; sagaTimeoutMs: number },
): () => Promise<void> {
  let running = true;
  let current: Promise<unknown> = Promise.resolve();
  const sweep = async () => {
    // Almost every sweep finds nothing: one indexed read says so, where the claim costs BEGIN, a locking read, COMMIT.
    if (!(await context.orm.em.fork().findOne(Order, overdue(), { fields: ["orderId"] }))) return;
    await transaction(context, async (em) => {
      const due = await em.find(Order, overdue(), {
        limit: 50,
        lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
        orderBy: { sagaDeadline: "asc" },
      });
      for (const order of due) {
        await applySagaInput(
          em,
          order.orderId,
          { kind: "deadline_passed" },
          { trigger: "saga deadline", correlationId: order.orderId },
          sagaTimeoutMs,
        );
      }
    });
  };
  const timer = setInterval(() => {
    if (!running) return;
    current = sweep().catch((error: unknown) =>
      context.log.warn({ err: (error as Error).message }, "deadline sweep failed"),
    );
  }, intervalMs);
  return async () => {
    running = false;
    clearInterval(timer);
    await current;
  };
}
