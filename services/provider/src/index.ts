import { type RunningGrpcServer, startGrpcServer } from "@mesh/kit";
import type { Logger } from "pino";
import { type LedgerEntry, type ProviderBehaviour, providerService } from "./api/provider-service.ts";

export type { LedgerEntry, ProviderBehaviour } from "./api/provider-service.ts";

export interface RunningProvider extends RunningGrpcServer {
  /** Change latency, failure rate and late answers while running. */
  readonly behaviour: ProviderBehaviour;
  /** Every captured charge, with its refunds. */
  ledger(): LedgerEntry[];
}

/** The simulated payment gateway as a gRPC server. */
export async function startProvider(options: {
  host: string;
  port: number;
  behaviour: ProviderBehaviour;
  log: Logger;
}): Promise<RunningProvider> {
  const behaviour = { ...options.behaviour };
  const { service, ledger } = providerService(behaviour);
  const server = await startGrpcServer({
    services: [service],
    host: options.host,
    port: options.port,
    logger: options.log,
  });
  return Object.assign(server, { behaviour, ledger });
}
