import { readEnv, runService, serviceEnv } from "@mesh/kit";
import { z } from "zod";
import { startPayment } from "./index.ts";

runService("payment", async (log) => {
  const env = readEnv({
    ...serviceEnv,
    SIDECAR_OUTBOUND: z
      .string()
      .regex(/^[^:]+:\d+$/, "expected host:port")
      .default("127.0.0.1:15001"),
  });
  return startPayment({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    log,
  });
});
