import { meshClient, type RunningService, startService } from "@mesh/kit";
import { PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import type { Logger } from "pino";
import { paymentService } from "./api/payment-service.ts";
import { entities, migrations } from "./db/entities.ts";
import { CHARGE_ATTEMPTS, onInventoryReserved, onOrderCancelled } from "./events/payment-steps.ts";

export interface PaymentOptions {
  databaseUrl: string;
  natsUrl: string;
  grpc: { host: string; port: number };
  /** The local sidecar's outbound listener: the gateway is called through it. */
  sidecarOutbound: string;
  log: Logger;
}

/** The payment service: gRPC API, and the saga's charge and refund steps. */
export function startPayment(options: PaymentOptions): Promise<RunningService> {
  const provider = meshClient(PaymentProviderService, options.sidecarOutbound);
  return startService({
    name: "payment",
    ...options,
    entities,
    migrations,
    services: (context) => [paymentService(context, provider)],
    consumers: () => [
      {
        name: "payment-inventory-reserved",
        subject: "shop.inventory.reserved",
        handler: onInventoryReserved(provider),
        maxDeliver: CHARGE_ATTEMPTS + 1,
      },
      { name: "payment-order-cancelled", subject: "shop.order.cancelled", handler: onOrderCancelled(provider) },
    ],
  });
}
