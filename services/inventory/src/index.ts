import { type RunningService, startService } from "@mesh/kit";
import type { Logger } from "pino";
import { inventoryService } from "./api/inventory-service.ts";
import { withLatency } from "./api/latency.ts";
import { entities, migrations } from "./db/entities.ts";
import { seedProducts } from "./db/seed.ts";
import { inventoryConsumers } from "./events/consumers.ts";

export { DEMO_PRODUCTS } from "./db/seed.ts";

export interface InventoryOptions {
  databaseUrl: string;
  natsUrl: string;
  grpc: { host: string; port: number };
  log: Logger;
  /** Every gRPC handler answers this much later (a drill: a slow but healthy instance); default 0. */
  latencyMs?: number;
}

/** The inventory service: gRPC API, the saga's stock steps, and the demo catalogue. */
export function startInventory({ latencyMs = 0, ...options }: InventoryOptions): Promise<RunningService> {
  return startService({
    name: "inventory",
    ...options,
    entities,
    migrations,
    prepare: ({ orm }) => orm.em.fork().transactional((em) => seedProducts(em)),
    services: (context) => [withLatency(inventoryService(context), latencyMs)],
    consumers: () => inventoryConsumers,
  });
}
