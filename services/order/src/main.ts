import { callerEnv, readEnv, runService, serviceEnv } from "@mesh/kit";
import { z } from "zod";
import { startOrder } from "./index.ts";

runService("order", async (log) => {
  const env = readEnv({
    ...serviceEnv,
    ...callerEnv,
    SAGA_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  });
  return startOrder({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    sagaTimeoutMs: env.SAGA_TIMEOUT_MS,
    log,
  });
});
