import { callerEnv, readEnv, runService, serviceEnv } from "@mesh/kit";
import { z } from "zod";
import { DEFAULT_PRICE_LIST_MAX_AGE_MS, DEFAULT_SAGA_STUCK_GRACE_MS, startOrder } from "./index.ts";

runService("order", async (log) => {
  const env = readEnv({
    ...serviceEnv,
    ...callerEnv,
    SAGA_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
    SAGA_STUCK_GRACE_MS: z.coerce.number().int().min(0).default(DEFAULT_SAGA_STUCK_GRACE_MS),
    PRICE_LIST_MAX_AGE_MS: z.coerce.number().int().min(0).default(DEFAULT_PRICE_LIST_MAX_AGE_MS),
  });
  return startOrder({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    sagaTimeoutMs: env.SAGA_TIMEOUT_MS,
    sagaStuckGraceMs: env.SAGA_STUCK_GRACE_MS,
    priceListMaxAgeMs: env.PRICE_LIST_MAX_AGE_MS,
    log,
  });
});
