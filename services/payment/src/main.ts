import { callerEnv, EnvConfigError, readEnv, runService, serviceEnv } from "@mesh/kit";
import { parseCardKey } from "./domain/card-vault.ts";
import { startPayment } from "./index.ts";

/** PAYMENT_CARD_KEY, read apart from readEnv: a bad key is reported without its value, which is a secret. */
function cardKeyFromEnv(value = process.env.PAYMENT_CARD_KEY): Buffer | undefined {
  if (value === undefined || value === "") return undefined;
  try {
    return parseCardKey(value);
  } catch (error) {
    throw new EnvConfigError(`invalid environment:\n  PAYMENT_CARD_KEY: ${(error as Error).message}`);
  }
}

runService("payment", async (log) => {
  const env = readEnv({ ...serviceEnv, ...callerEnv });
  return startPayment({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    grpc: { host: env.GRPC_HOST, port: env.GRPC_PORT },
    sidecarOutbound: env.SIDECAR_OUTBOUND,
    cardKey: cardKeyFromEnv(),
    log,
  });
});
