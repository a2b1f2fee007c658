import { callerEnv, readEnv, runService, serviceEnv } from "@mesh/kit";
import { startPayment } from "./index.ts";

runService("payment", async (log) => {
  const env = readEnv({ ...serviceEnv, ...callerEnv });
  return startPayment({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    log,
  });
});
