import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CheckRunner } from "./checks/check-runner.ts";
import { ConnectCA } from "./connect/ca.ts";
import { IntentionStore } from "./connect/intentions.ts";
import { ServiceDefaultsStore } from "./connect/service-defaults.ts";
import { agentRoutes } from "./http/agent-routes.ts";
import { configRoutes } from "./http/config-routes.ts";
import { connectCaRoutes } from "./http/connect-ca-routes.ts";
import { healthRoutes } from "./http/health-routes.ts";
import { intentionRoutes } from "./http/intention-routes.ts";
import { kvRoutes } from "./http/kv-routes.ts";
import { createConsulServer } from "./http/server.ts";
import { statusRoutes } from "./http/status-routes.ts";
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
  /** The Connect CA's cluster UUID; the trust domain is `<clusterId>.consul`. Default: a new one at each start. */
  clusterId?: string;
  /** Overrides the whole trust domain. */
  trustDomain?: string;
  /** LeafCertTTL at start (Consul: 72h). */
  leafCertTtlMs?: number;
  /**
   * The lowest LeafCertTTL PUT /v1/connect/ca/configuration accepts (Consul: 1h); lower for tests. A `leafCertTtlMs`
   * under 1h lowers it to that TTL.
   */
  minLeafCertTtlMs?: number;
  /**
   * When the agent renews a leaf, as fractions of its lifetime: a random point between `from` and `to` (Consul's agent:
   * 0.6 to 0.9). Tests may narrow it, e.g. { from: 0.5, to: 0.5 }.
   */
  leafRenewalWindow?: { from: number; to: number };
}

export interface RunningConsulDev {
  readonly address: string;
  readonly url: string;
  readonly state: AgentState;
  /** The Connect CA: roots, configuration and each service's leaf. */
  readonly ca: ConnectCA;
  /** Intentions, by destination: the legacy intention endpoints and service-intentions config entries share it. */
  readonly intentions: IntentionStore;
  readonly serviceDefaults: ServiceDefaultsStore;
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
  const minLeafCertTtlMs = Math.min(options.minLeafCertTtlMs ?? 3_600_000, options.leafCertTtlMs ?? 3_600_000);
  const ca = await ConnectCA.create(state, {
    datacenter: state.node.datacenter,
    clusterId: options.clusterId,
    trustDomain: options.trustDomain,
    leafCertTtlMs: options.leafCertTtlMs,
    renewalWindow: options.leafRenewalWindow,
  });
  const intentions = new IntentionStore(() => state.advance());
  const serviceDefaults = new ServiceDefaultsStore(() => state.advance());
  const runner = new CheckRunner(state, { reapIntervalMs: options.reapIntervalMs ?? 30_000 });
  const blocking = { maxWaitMs: options.maxWaitMs };
  const server = createConsulServer([
    ...agentRoutes({ state, runner, limits: { minDeregisterMs: options.minDeregisterMs ?? 60_000 } }),
    ...healthRoutes(state, blocking),
    ...kvRoutes(state, blocking),
    ...connectCaRoutes({ state, ca, blocking, minLeafCertTtlMs }),
    ...intentionRoutes({ state, intentions, blocking }),
    ...configRoutes({ state, intentions, serviceDefaults, blocking }),
    ...statusRoutes(state, ca, blocking),
  ]);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      runner.stop();
      ca.stop();
      reject(
        new Error(error.code === "EADDRINUSE" ? `${bind}:${options.port ?? 8500} is already in use` : error.message),
      );
    });
    server.listen(options.port ?? 8500, bind, resolve);
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : 0;
  const address = `${bind}:${port}`;
  return {
    address,
    url: `http://${address}`,
    state,
    ca,
    intentions,
    serviceDefaults,
    stop: () =>
      new Promise((resolve) => {
        runner.stop();
        ca.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
