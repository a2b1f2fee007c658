import { readEnv, runService, serviceEnv } from "@mesh/kit";
import { startInventory } from "./index.ts";

runService("inventory", async (log) => {
  const env = readEnv(serviceEnv);
  return startInventory({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    log,
  });
});
