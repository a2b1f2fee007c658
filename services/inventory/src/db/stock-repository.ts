import { type EntityManager, LockMode } from "@mikro-orm/postgresql";
import type { Line } from "../domain/stock.ts";
import { Product } from "./entities.ts";

/**
 * Locks the products of some lines (`select ... for update`, in product order, after the order's reservation row:
 * see reservation-repository; so two steps never wait on each other in a cycle) and returns them by id. Row locks
 * rather than optimistic versions: a reservation must change several products all-or-nothing, and under contention
 * for the same scarce product optimistic retries would mostly fail and retry; the lock makes each reservation see
 * the stock the previous one left.
 */
export async function lockProducts(em: EntityManager, lines: readonly Line[]): Promise<Map<string, Product>> {
  const products = await em.find(
    Product,
    { productId: { $in: lines.map((line) => line.productId) } },
    { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { productId: "asc" } },
  );
  return new Map(products.map((product) => [product.productId, product]));
}
