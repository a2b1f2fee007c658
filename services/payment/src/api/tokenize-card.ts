import { status } from "@grpc/grpc-js";
import { type ServiceContext, ServiceError } from "@mesh/kit";
import type { TokenizeCardRequest } from "@mesh/proto/shop/payment/v1/payment_pb";
import { type EntityManager, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import { findCard } from "../db/card-store.ts";
import { Card } from "../db/entities.ts";
import { cardNumberProblem, lastFour, newCardToken, sealCard } from "../domain/card-vault.ts";

const issued = (card: Pick<Card, "token" | "last4">) => ({ cardToken: card.token, cardLast4: card.last4 });

/** A repeated request_id answers with its first token, but only for the same card (as far as payment still knows it). */
async function earlierToken(em: EntityManager, cardKey: Buffer, request: TokenizeCardRequest) {
  const earlier = await em.findOne(Card, { requestId: request.requestId });
  if (!earlier) return undefined;
  const { cardNumber } = await findCard(em, cardKey, earlier.token);
  const sameCard = cardNumber ? cardNumber === request.cardNumber : earlier.last4 === lastFour(request.cardNumber);
  if (!sameCard)
    throw new ServiceError(status.ALREADY_EXISTS, `request_id "${request.requestId}" was used for another card`);
  return issued(earlier);
}

/**
 * PaymentService.TokenizeCard: checks the card and stores it sealed under a fresh random token. Neither the number
 * nor anything derived from it leaves this function except the last four digits; error messages never contain it.
 */
export function tokenizeCard(context: ServiceContext, cardKey: Buffer) {
  return async (request: TokenizeCardRequest) => {
    if (!request.requestId)
      throw new ServiceError(
        status.INVALID_ARGUMENT,
        "request_id is required (a client-chosen key, for example a UUID)",
      );
    if (request.requestId.length > 200)
      throw new ServiceError(status.INVALID_ARGUMENT, "request_id is longer than 200 characters");
    const problem = cardNumberProblem(request.cardNumber);
    if (problem) throw new ServiceError(status.INVALID_ARGUMENT, problem);
    const token = newCardToken();
    const card = {
      token,
      requestId: request.requestId,
      last4: lastFour(request.cardNumber),
      sealedNumber: sealCard(cardKey, token, request.cardNumber),
      erasedAt: null,
    };
    try {
      // One statement, no transaction around it: a new request_id (the common case) costs one round trip.
      await context.orm.em.fork().insert(Card, { ...card, createdAt: new Date() });
      return issued(card);
    } catch (error) {
      // A repeated request_id, or the same one racing in concurrently: answer as the first call did.
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      const earlier = await earlierToken(context.orm.em.fork(), cardKey, request);
      if (earlier) return earlier;
      throw error;
    }
  };
}
