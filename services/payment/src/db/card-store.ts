import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { openCard } from "../domain/card-vault.ts";
import { Card } from "./entities.ts";

/** The card a token stands for, and its number when it is still kept and opens with this key. */
export async function findCard(
  em: EntityManager,
  key: Buffer,
  token: string,
): Promise<{ card: Card | null; cardNumber: string | undefined }> {
  const card = token ? await em.findOne(Card, { token }) : null;
  const cardNumber = card?.sealedNumber ? openCard(key, card.token, card.sealedNumber) : undefined;
  return { card, cardNumber };
}

/** A card as its claim returns it: the number may be erased already (null). */
export interface ClaimedCard {
  last4: string;
  sealedNumber: Buffer | null;
}

/**
 * Claims the card behind a token for the order whose charge uses it; undefined when the token is unknown or another
 * order's. The claim is committed at once, outside the caller's transaction (no transaction context is passed), and
 * before the charge is sent: a try that gets no answer rolls back, but the claim stays, so
 * - a cancel of the order knows that a charge may have been sent, and settles it with the gateway first, and
 * - a cancel of another order that named the same token does not erase the card between two tries of this charge.
 * It takes a second connection of the pool while the caller's transaction holds one: the charge consumer applies
 * fewer events at once than the pool has connections (CHARGE_CONCURRENCY, PAYMENT_POOL_SIZE), so claims never wait on
 * each other forever.
 */
export async function claimCard(em: EntityManager, token: string, orderId: string): Promise<ClaimedCard | undefined> {
  const rows = await em.getConnection().execute<{ last4: string; sealed_number: Buffer | null }[]>(
    `update "card" set "claimed_by" = ? where "token" = ? and ("claimed_by" is null or "claimed_by" = ?)
     returning "last4", "sealed_number"`,
    [orderId, token, orderId],
    "all",
  );
  const row = rows[0];
  return row && { last4: row.last4, sealedNumber: row.sealed_number };
}

/**
 * Forgets the number of the card behind a token (in the caller's transaction), once an order is done with it, unless
 * another order's charge has claimed the card: a token pays for one order, and a cancel of a second order that
 * named the same token must not take the card from the first. Its token and last four digits stay.
 */
export async function eraseCardOf(em: EntityManager, token: string, orderId: string): Promise<void> {
  if (!token) return;
  await em.nativeUpdate(
    Card,
    { token, sealedNumber: { $ne: null }, $or: [{ claimedBy: null }, { claimedBy: orderId }] },
    { sealedNumber: null, erasedAt: new Date() },
  );
}

/**
 * Forgets card numbers that no order used within maxAgeMs (an order that failed after its card was tokenized never
 * reaches payment): a card is kept for a charge that may come, never indefinitely. Returns how many were erased.
 */
export async function eraseUnusedCards(orm: MikroORM, maxAgeMs: number): Promise<number> {
  return orm.em
    .fork()
    .nativeUpdate(
      Card,
      { sealedNumber: { $ne: null }, createdAt: { $lt: new Date(Date.now() - maxAgeMs) } },
      { sealedNumber: null, erasedAt: new Date() },
    );
}
