import { readEnv, runService, serviceEnv } from "@mesh/kit";
import { z } from "zod";
import { startInventory } from "./index.ts";

runService("inventory", async (log) => {
  const env = readEnv({
    ...serviceEnv,
    /** A drill: every gRPC handler answers this much later (the instance stays healthy, only slow). */
    INVENTORY_LATENCY_MS: z.coerce.number().int().min(0).default(0),
  });
  return startInventory({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    log,
    latencyMs: env.INVENTORY_LATENCY_MS,
  });
});
