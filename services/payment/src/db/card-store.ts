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

/** Forgets a card's number (in the caller's transaction); its token and last four digits stay. */
export function eraseCardNumber(card: Card | null): void {
  if (!card?.sealedNumber) return;
  card.sealedNumber = null;
  card.erasedAt = new Date();
}

/** Forgets the number of the card behind a token, if payment still keeps it. */
export async function eraseCardOf(em: EntityManager, token: string): Promise<void> {
  if (token) eraseCardNumber(await em.findOne(Card, { token }));
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
