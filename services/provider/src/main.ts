import { readEnv, runService } from "@mesh/kit";
import { z } from "zod";
import { startProvider } from "./index.ts";

runService("provider", async (log) => {
  const env = readEnv({
    GRPC_HOST: z.string().default("127.0.0.1"),
    GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
    PROVIDER_LATENCY_MS: z.coerce.number().int().min(0).default(0),
    PROVIDER_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
    PROVIDER_ANSWER_LATE_MS: z.coerce.number().int().min(0).default(0),
  });
  const provider = await startProvider({
    host: env.GRPC_HOST,
    port: env.GRPC_PORT,
    behaviour: {
      latencyMs: env.PROVIDER_LATENCY_MS,
      failureRate: env.PROVIDER_FAILURE_RATE,
      answerLateMs: env.PROVIDER_ANSWER_LATE_MS,
    },
    log,
  });
  return { stop: () => provider.shutdown() };
});
