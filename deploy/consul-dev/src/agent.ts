import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CheckRunner } from "./checks/check-runner.ts";
import { agentRoutes } from "./http/agent-routes.ts";
import { healthRoutes } from "./http/health-routes.ts";
import { kvRoutes } from "./http/kv-routes.ts";
import { createConsulServer } from "./http/server.ts";
import { AgentState } from "./state/agent-state.ts";

export interface ConsulDevOptions {
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default 8500; 0 picks a free port. */
  port?: number;
  nodeName?: string;
  datacenter?: string;
  /** DeregisterCriticalServiceAfter is raised to at least this (Consul: 1m); lower only for tests. */
  minDeregisterMs?: number;
  /** How often critical services are reaped (Consul: 30s); lower only for tests. */
  reapIntervalMs?: number;
  /** Upper bound on a blocking query's wait (Consul: 10m). */
  maxWaitMs?: number;
}

export interface RunningConsulDev {
  readonly address: string;
  readonly url: string;
  readonly state: AgentState;
  stop(): Promise<void>;
}

/** Starts a Consul-compatible agent: the HTTP API subset the mesh uses, running its own checks. */
export async function startConsulDev(options: ConsulDevOptions = {}): Promise<RunningConsulDev> {
  const bind = options.bind ?? "127.0.0.1";
  const state = new AgentState({
    id: randomUUID(),
    name: options.nodeName ?? hostname(),
    address: bind === "0.0.0.0" ? "127.0.0.1" : bind,
    datacenter: options.datacenter ?? "dc1",
  });
  const runner = new CheckRunner(state, { reapIntervalMs: options.reapIntervalMs ?? 30_000 });
  const blocking = { maxWaitMs: options.maxWaitMs };
  const server = createConsulServer([
    ...agentRoutes({ state, runner, limits: { minDeregisterMs: options.minDeregisterMs ?? 60_000 } }),
    ...healthRoutes(state, blocking),
    ...kvRoutes(state, blocking),
  ]);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(error.code === "EADDRINUSE" ? `${bind}:${options.port ?? 8500} is already in use` : error.message),
      ),
    );
    server.listen(options.port ?? 8500, bind, resolve);
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : 0;
  const address = `${bind}:${port}`;
  return {
    address,
    url: `http://${address}`,
    state,
    stop: () =>
      new Promise((resolve) => {
        runner.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
