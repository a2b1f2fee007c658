import { callerEnv, readEnv, runService } from "@mesh/kit";
import { z } from "zod";
import { startGateway } from "./index.ts";

runService("gateway", async (log) => {
  const env = readEnv({
    ...callerEnv,
    GATEWAY_HTTP_HOST: z.string().default("127.0.0.1"),
    GATEWAY_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    GRPC_HOST: z.string().default("127.0.0.1"),
    GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
  });
  return startGateway({
    http: { host: env.GATEWAY_HTTP_HOST, port: env.GATEWAY_HTTP_PORT },
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    log,
  });
});
