import type { Client } from "@connectrpc/connect";
import type { PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";

export type ProviderClient = Client<typeof PaymentProviderService>;

/** How long one call to the gateway may take by default (the sidecar's retries included). */
export const GATEWAY_TIMEOUT_MS = 5000;

/** The idempotency key of an order's one charge: the charge step and the cancel's settlement use the same. */
export const chargeKey = (orderId: string) => `charge-${orderId}`;

/**
 * The idempotency key of a charge's one refund: an operator's refund and a cancel's use the same. It names the
 * gateway's charge, not our payment row: a cancel that finds a lost capture inserts its row with a fresh id on every
 * try, so a refund whose answer was lost must be asked again under a key that outlives the try.
 */
export const refundKey = (chargeId: string) => `refund-${chargeId}`;

/** The gateway's calls as payment makes them: each within timeoutMs. */
export function gatewayClient(provider: ProviderClient, timeoutMs: number) {
  const options = { timeoutMs };
  return {
    charge: (request: Parameters<ProviderClient["charge"]>[0]) => provider.charge(request, options),
    settle: (idempotencyKey: string) => provider.settleCharge({ idempotencyKey }, options),
    refund: (chargeId: string) => provider.refundCharge({ idempotencyKey: refundKey(chargeId), chargeId }, options),
  };
}

export type Gateway = ReturnType<typeof gatewayClient>;
