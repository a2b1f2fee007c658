import { randomBytes } from "node:crypto";
import { meshClient, type RunningService, startService } from "@mesh/kit";
import { PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import type { Logger } from "pino";
import { paymentService } from "./api/payment-service.ts";
import { eraseUnusedCards } from "./db/card-store.ts";
import { entities, migrations } from "./db/entities.ts";
import { CARD_KEY_BYTES } from "./domain/card-vault.ts";
import { PAYMENT_POOL_SIZE, paymentConsumers } from "./events/payment-steps.ts";
import { countRefundFailures } from "./payment-metrics.ts";

export interface PaymentOptions {
  databaseUrl: string;
  natsUrl: string;
  grpc: { host: string; port: number };
  /** The local sidecar's outbound listener: the gateway is called through it. */
  sidecarOutbound: string;
  /**
   * The AES-256 key card numbers are sealed with (PAYMENT_CARD_KEY). Without one, a key for this process only:
   * cards tokenized before a restart can then not be charged after it (their orders are cancelled, nothing is taken).
   */
  cardKey?: Buffer;
  /** How long one call to the gateway may take (default GATEWAY_TIMEOUT_MS); past it, its outcome is unknown. */
  gatewayTimeoutMs?: number;
  log: Logger;
}

/** A card number no order has used after this long is erased: longer than any saga waits for its charge. */
export const UNUSED_CARD_TTL_MS = 60 * 60_000;
const UNUSED_CARD_SWEEP_MS = 60_000;

function processCardKey(log: Logger): Buffer {
  log.warn(
    "PAYMENT_CARD_KEY is not set: card numbers are sealed with a key of this process only, so a card tokenized " +
      "before a restart cannot be charged after it. Set PAYMENT_CARD_KEY (openssl rand -base64 32) outside development.",
  );
  return randomBytes(CARD_KEY_BYTES);
}

/** Erases unused card numbers now and then; returns the function that stops it. */
function sweepUnusedCards(options: { orm: Parameters<typeof eraseUnusedCards>[0]; log: Logger }) {
  let current: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    current = eraseUnusedCards(options.orm, UNUSED_CARD_TTL_MS)
      .then((erased) => erased && options.log.info({ erased }, "unused card numbers erased"))
      .catch((error: unknown) => options.log.warn({ err: (error as Error).message }, "unused card sweep failed"));
  }, UNUSED_CARD_SWEEP_MS);
  return async () => {
    clearInterval(timer);
    await current;
  };
}

/** The payment service: gRPC API (card tokens, payments, refunds), and the saga's charge and refund steps. */
export function startPayment(options: PaymentOptions): Promise<RunningService> {
  const provider = meshClient(PaymentProviderService, options.sidecarOutbound);
  const cardKey = options.cardKey ?? processCardKey(options.log);
  const gateway = { gatewayTimeoutMs: options.gatewayTimeoutMs };
  return startService({
    name: "payment",
    ...options,
    entities,
    migrations,
    poolSize: PAYMENT_POOL_SIZE,
    prepare: async (context) => countRefundFailures(context),
    services: (context) => [paymentService(context, provider, cardKey, gateway)],
    consumers: () => paymentConsumers(provider, cardKey, { ...gateway, log: options.log }),
    background: (context) => sweepUnusedCards(context),
  });
}
