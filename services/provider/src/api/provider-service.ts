import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { implement, ServiceError } from "@mesh/kit";
import { ChargeOutcome, PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import { decideCharge, isCardNumber } from "../domain/card-rules.ts";

export interface ProviderBehaviour {
  /** Added before every answer. */
  latencyMs: number;
  /** Share (0-1) of calls that fail with UNAVAILABLE before anything is done. */
  failureRate: number;
  /**
   * Charges and refunds: the answer comes this long after the money moved (a first call or a repeat), so a caller
   * whose deadline is shorter learns nothing although the money was taken or returned. 0 or unset: no delay.
   */
  answerLateMs?: number;
}

interface ChargeRecord {
  chargeId: string;
  idempotencyKey: string;
  outcome: ChargeOutcome;
  declineCode: string;
  amountMinor: bigint;
  currency: string;
  /** Refunds made of this charge: a correct gateway (and caller) never makes more than one. */
  refunds: number;
}

/** One captured charge as tests and drills see it. */
export interface LedgerEntry {
  chargeId: string;
  /** The key the charge was made with (payment uses `charge-<order id>`). */
  idempotencyKey: string;
  amountMinor: bigint;
  refunded: boolean;
  refunds: number;
}

const answer = (charge: ChargeRecord) => ({
  chargeId: charge.chargeId,
  outcome: charge.outcome,
  declineCode: charge.declineCode,
});

/**
 * The gateway's API. Results are remembered by idempotency key, so a retried call (by the payment service or its
 * sidecar) returns the first call's result and never charges twice; a key settled before any charge was made is
 * void for good. Behaviour can be changed while running, for drills and tests.
 */
export function providerService(behaviour: ProviderBehaviour) {
  const charges = new Map<string, ChargeRecord>();
  const byChargeId = new Map<string, ChargeRecord>();
  const refunds = new Map<string, string>();
  const voided = new Set<string>();

  const disturb = async (signal: AbortSignal) => {
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs, undefined, { signal });
    if (Math.random() < behaviour.failureRate)
      throw new ServiceError(status.UNAVAILABLE, "payment gateway temporarily unavailable");
  };

  /** The charge a key names, made now unless it was made before; undefined for a processing error. */
  const chargeOnce = (key: string, cardNumber: string, amount: { amountMinor: bigint; currency: string }) => {
    const seen = charges.get(key);
    if (seen) return seen;
    const decision = decideCharge(cardNumber);
    if (decision.kind === "processing_error") return undefined;
    const record: ChargeRecord = {
      chargeId: `ch_${randomUUID()}`,
      idempotencyKey: key,
      outcome: decision.kind === "captured" ? ChargeOutcome.CAPTURED : ChargeOutcome.DECLINED,
      declineCode: decision.kind === "declined" ? decision.code : "",
      amountMinor: amount.amountMinor,
      currency: amount.currency,
      refunds: 0,
    };
    charges.set(key, record);
    byChargeId.set(record.chargeId, record);
    return record;
  };

  /** Holds an answer back after the money moved (behaviour.answerLateMs). */
  const answerLate = async (signal: AbortSignal) => {
    const lateMs = behaviour.answerLateMs ?? 0;
    if (lateMs > 0) await sleep(lateMs, undefined, { signal });
  };

  const service = implement(PaymentProviderService, {
    async charge(request, context) {
      if (!request.idempotencyKey) throw new ServiceError(status.INVALID_ARGUMENT, "idempotency_key is required");
      if (!isCardNumber(request.cardNumber))
        throw new ServiceError(status.INVALID_ARGUMENT, "card_number must be 16 digits");
      if (!request.amount || request.amount.amountMinor <= 0n)
        throw new ServiceError(status.INVALID_ARGUMENT, "amount must be positive");
      await disturb(context.signal);
      // Checked after the latency: a SettleCharge that came meanwhile wins over this charge.
      if (voided.has(request.idempotencyKey))
        throw new ServiceError(status.FAILED_PRECONDITION, "idempotency key voided");
      const record = chargeOnce(request.idempotencyKey, request.cardNumber, request.amount);
      if (!record) throw new ServiceError(status.UNAVAILABLE, "processing_error");
      await answerLate(context.signal);
      return answer(record);
    },

    async settleCharge(request, context) {
      if (!request.idempotencyKey) throw new ServiceError(status.INVALID_ARGUMENT, "idempotency_key is required");
      await disturb(context.signal);
      const charge = charges.get(request.idempotencyKey);
      if (!charge) {
        voided.add(request.idempotencyKey);
        return { found: false };
      }
      return {
        found: true,
        ...answer(charge),
        amount: { amountMinor: charge.amountMinor, currency: charge.currency },
      };
    },

    async refundCharge(request, context) {
      if (!request.idempotencyKey) throw new ServiceError(status.INVALID_ARGUMENT, "idempotency_key is required");
      await disturb(context.signal);
      const seen = refunds.get(request.idempotencyKey);
      if (seen) {
        await answerLate(context.signal);
        return { refundId: seen };
      }
      const charge = byChargeId.get(request.chargeId);
      if (!charge || charge.outcome !== ChargeOutcome.CAPTURED) {
        throw new ServiceError(status.NOT_FOUND, `no captured charge ${request.chargeId}`);
      }
      if (charge.refunds > 0)
        throw new ServiceError(status.FAILED_PRECONDITION, `charge ${request.chargeId} is already refunded`);
      const refundId = `re_${randomUUID()}`;
      charge.refunds++;
      refunds.set(request.idempotencyKey, refundId);
      await answerLate(context.signal);
      return { refundId };
    },
  });
  /** The charges the gateway captured, and how often each was refunded: for tests and drills. */
  const ledger = (): LedgerEntry[] =>
    [...byChargeId.values()]
      .filter((charge) => charge.outcome === ChargeOutcome.CAPTURED)
      .map((charge) => ({
        chargeId: charge.chargeId,
        idempotencyKey: charge.idempotencyKey,
        amountMinor: charge.amountMinor,
        refunded: charge.refunds > 0,
        refunds: charge.refunds,
      }));
  return { service, ledger };
}
