import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { OutboxEvent } from "../db/kit-tables.ts";

/** The outbox rows each transaction's entity manager has written, for the relay to publish once it commits. */
const written = new WeakMap<EntityManager, OutboxEvent[]>();

/** Notes an outbox row written with `em` (enqueueEvent does). */
export function noteWritten(em: EntityManager, row: OutboxEvent): void {
  const rows = written.get(em);
  if (rows) rows.push(row);
  else written.set(em, [row]);
}

/**
 * Runs work in one transaction; resolves its result and the outbox rows it wrote, once committed: those can be
 * published at once, without the relay reading them back.
 */
export async function transactionWithEvents<T>(
  orm: MikroORM,
  work: (em: EntityManager) => Promise<T>,
): Promise<{ result: T; events: OutboxEvent[] }> {
  let events: OutboxEvent[] = [];
  const result = await orm.em.fork().transactional(async (em) => {
    const value = await work(em);
    events = written.get(em) ?? [];
    return value;
  });
  return { result, events };
}
