import { meshClient, type RunningService, startService } from "@mesh/kit";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import type { Logger } from "pino";
import { orderService } from "./api/order-service.ts";
import { registerStuckSagaGauge } from "./api/stuck-sagas.ts";
import { entities, migrations } from "./db/entities.ts";
import { startDeadlineSweeper } from "./events/deadline-sweeper.ts";
import { sagaConsumers } from "./events/saga-steps.ts";

export const DEFAULT_PRICE_LIST_MAX_AGE_MS = 5000;
export const DEFAULT_SAGA_STUCK_GRACE_MS = 60_000;

export interface OrderOptions {
  databaseUrl: string;
  natsUrl: string;
  grpc: { host: string; port: number };
  /** The local sidecar's outbound listener: inventory is called through it. */
  sidecarOutbound: string;
  /** A saga still PENDING this long after the order was placed is cancelled and compensated. */
  sagaTimeoutMs: number;
  /** A saga unfinished this long past its deadline is reported stuck (ListStuckOrders, mesh_sagas_stuck; 60 s). */
  sagaStuckGraceMs?: number;
  /** How long the catalogue's prices are used before inventory is asked again (default 5 s; 0: every order). */
  priceListMaxAgeMs?: number;
  /** How often to look for expired sagas. */
  sweepIntervalMs?: number;
  log: Logger;
}

/** The order service: the order API and the order's side of the saga. */
export function startOrder(options: OrderOptions): Promise<RunningService> {
  const inventory = meshClient(InventoryService, options.sidecarOutbound);
  const { sagaTimeoutMs, sagaStuckGraceMs = DEFAULT_SAGA_STUCK_GRACE_MS } = options;
  return startService({
    name: "order",
    ...options,
    entities,
    migrations,
    prepare: async (context) => registerStuckSagaGauge(context, sagaStuckGraceMs),
    services: (context) => [
      orderService(context, inventory, {
        sagaTimeoutMs,
        sagaStuckGraceMs,
        priceListMaxAgeMs: options.priceListMaxAgeMs ?? DEFAULT_PRICE_LIST_MAX_AGE_MS,
      }),
    ],
    consumers: () => sagaConsumers(sagaTimeoutMs),
    background: (context) =>
      startDeadlineSweeper(context, { intervalMs: options.sweepIntervalMs ?? 1000, sagaTimeoutMs }),
  });
}
