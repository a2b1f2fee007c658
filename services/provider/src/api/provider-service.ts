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
}

interface ChargeRecord {
  chargeId: string;
  outcome: ChargeOutcome;
  declineCode: string;
  amountMinor: bigint;
  refundId?: string;
}

/**
 * The gateway's API. Results are remembered by idempotency key, so a retried call (by the payment service or its
 * sidecar) returns the first call's result and never charges twice. Behaviour can be changed while running, for
 * drills and tests.
 */
export function providerService(behaviour: ProviderBehaviour) {
  const charges = new Map<string, ChargeRecord>();
  const byChargeId = new Map<string, ChargeRecord>();
  const refunds = new Map<string, string>();

  const disturb = async (signal: AbortSignal) => {
    if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs, undefined, { signal });
    if (Math.random() < behaviour.failureRate)
      throw new ServiceError(status.UNAVAILABLE, "payment gateway temporarily unavailable");
  };

  const service = implement(PaymentProviderService, {
    async charge(request, context) {
      if (!request.idempotencyKey) throw new ServiceError(status.INVALID_ARGUMENT, "idempotency_key is required");
      if (!isCardNumber(request.cardNumber))
        throw new ServiceError(status.INVALID_ARGUMENT, "card_number must be 16 digits");
      if (!request.amount || request.amount.amountMinor <= 0n)
        throw new ServiceError(status.INVALID_ARGUMENT, "amount must be positive");
      await disturb(context.signal);
      const seen = charges.get(request.idempotencyKey);
      if (seen) return { chargeId: seen.chargeId, outcome: seen.outcome, declineCode: seen.declineCode };
      const decision = decideCharge(request.cardNumber);
      if (decision.kind === "processing_error") throw new ServiceError(status.UNAVAILABLE, "processing_error");
      const record: ChargeRecord = {
        chargeId: `ch_${randomUUID()}`,
        outcome: decision.kind === "captured" ? ChargeOutcome.CAPTURED : ChargeOutcome.DECLINED,
        declineCode: decision.kind === "declined" ? decision.code : "",
        amountMinor: request.amount.amountMinor,
      };
      charges.set(request.idempotencyKey, record);
      byChargeId.set(record.chargeId, record);
      return { chargeId: record.chargeId, outcome: record.outcome, declineCode: record.declineCode };
    },

    async refundCharge(request, context) {
      if (!request.idempotencyKey) throw new ServiceError(status.INVALID_ARGUMENT, "idempotency_key is required");
      await disturb(context.signal);
      const seen = refunds.get(request.idempotencyKey);
      if (seen) return { refundId: seen };
      const charge = byChargeId.get(request.chargeId);
      if (!charge || charge.outcome !== ChargeOutcome.CAPTURED) {
        throw new ServiceError(status.NOT_FOUND, `no captured charge ${request.chargeId}`);
      }
      if (charge.refundId)
        throw new ServiceError(status.FAILED_PRECONDITION, `charge ${request.chargeId} is already refunded`);
      charge.refundId = `re_${randomUUID()}`;
      refunds.set(request.idempotencyKey, charge.refundId);
      return { refundId: charge.refundId };
    },
  });
  /** The charges the gateway captured, and whether each was refunded: for tests and drills. */
  const ledger = () =>
    [...byChargeId.values()]
      .filter((charge) => charge.outcome === ChargeOutcome.CAPTURED)
      .map((charge) => ({
        chargeId: charge.chargeId,
        amountMinor: charge.amountMinor,
        refunded: charge.refundId !== undefined,
      }));
  return { service, ledger };
}
