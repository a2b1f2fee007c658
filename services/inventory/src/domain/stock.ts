// Stock arithmetic for reservations, free of I/O: available + reserved + sold only changes through adjustments.

export interface StockLevels {
  available: number;
  reserved: number;
  sold: number;
}

export interface Line {
  productId: string;
  quantity: number;
}

export type ReservationOutcome = { ok: true } | { ok: false; reason: string };

/** Checks that every line can be held; all lines or none. */
export function canReserve(stock: ReadonlyMap<string, StockLevels>, lines: readonly Line[]): ReservationOutcome {
  for (const line of lines) {
    const levels = stock.get(line.productId);
    if (!levels) return { ok: false, reason: `unknown product ${line.productId}` };
    if (levels.available < line.quantity) {
      return {
        ok: false,
        reason: `insufficient stock for ${line.productId}: ${levels.available} available, ${line.quantity} requested`,
      };
    }
  }
  return { ok: true };
}

/** Moves units from available to reserved (call after canReserve). */
export function reserve(levels: StockLevels, quantity: number): void {
  levels.available -= quantity;
  levels.reserved += quantity;
}

/** Returns held units to available (compensation for a failed saga). */
export function release(levels: StockLevels, quantity: number): void {
  levels.reserved -= quantity;
  levels.available += quantity;
}

/** Turns held units into sold ones (the order was confirmed). */
export function commit(levels: StockLevels, quantity: number): void {
  levels.reserved -= quantity;
  levels.sold += quantity;
}

/** Returns sold units to available (a confirmed order was cancelled). */
export function restock(levels: StockLevels, quantity: number): void {
  levels.sold -= quantity;
  levels.available += quantity;
}

/** Merges lines of the same product, so a reservation locks and counts each product once. */
export function mergeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>();
  for (const line of lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity);
  return [...merged]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => (a.productId < b.productId ? -1 : 1));
}
