import type { Server } from "node:net";
import type { Logger } from "pino";
import { createAdminServer, createHealthServer } from "./admin/admin-server.ts";
import { MeshMetrics } from "./admin/metrics.ts";
import { IntentionWatch } from "./authorization/intention-watch.ts";
import { joinAddress, splitAddress } from "./config/address.ts";
import { checkHedging } from "./config/hedging-check.ts";
import { resolveUpstreamPolicy } from "./config/policy.ts";
import type { SidecarConfig } from "./config/schema.ts";
import type { MethodCatalog } from "./descriptors/method-catalog.ts";
import type { ConsulWatchOptions } from "./discovery/blocking-watch.ts";
import { ConsulClient, consulBaseUrl } from "./discovery/consul-client.ts";
import { ConsulEndpoints } from "./discovery/consul-endpoints.ts";
import { ConsulRegistration, type ServiceRegistration } from "./discovery/consul-registration.ts";
import { type EndpointSource, StaticEndpoints } from "./discovery/endpoint-source.ts";
import { buildRegistration } from "./discovery/registration-spec.ts";
import { checkAppHealth } from "./inbound/app-health.ts";
import { createInboundListener } from "./inbound/inbound-listener.ts";
import { Cluster } from "./outbound/cluster.ts";
import { createOutboundListener } from "./outbound/outbound-listener.ts";
import { Router } from "./outbound/router.ts";
import { type H2Server, listen } from "./proxy/h2-server.ts";
import { InFlight } from "./proxy/in-flight.ts";
import { SessionPool } from "./proxy/session-pool.ts";
import { ConnectCredentials } from "./tls/connect-credentials.ts";
import { MeshTls } from "./tls/mesh-tls.ts";
import type { Tracing } from "./tracing/start-tracing.ts";

export interface SidecarOptions {
  config: SidecarConfig;
  catalog: MethodCatalog;
  log: Logger;
  /** Default: the endpoints listed in the config. */
  endpoints?: EndpointSource;
  /** Spans for every call (see tracing/); shut down with the sidecar. */
  tracing?: Tracing;
}

export interface RunningSidecar {
  /** Bound ports, useful when the config asked for port 0. */
  readonly ports: { inbound?: number; outbound?: number; admin: number; health?: number };
  readonly metrics: MeshMetrics;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly router: Router;
  /** What this sidecar registered in Consul, if it registers. */
  readonly registration: ServiceRegistration | undefined;
  /** Not ready, refuse new inbound calls, wait for in-flight ones (up to drainTimeoutMs), then close everything. */
  drain(): Promise<void>;
  /** Closes at once. */
  close(): Promise<void>;
}

/** The Consul agent to use: CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN override the config, as Consul's tools do. */
function consulClient(consul: NonNullable<SidecarConfig["consul"]>): ConsulClient {
  const address = process.env.CONSUL_HTTP_ADDR || consul.address;
  return new ConsulClient(consulBaseUrl(address), process.env.CONSUL_HTTP_TOKEN || consul.token);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function goAway(server: H2Server) {
  for (const connection of server.connections) connection.close();
}

/** Fetches this sidecar's certificate and the roots from Consul, saying so while Consul does not answer. */
async function meshIdentity(consul: ConsulClient, service: string, watch: ConsulWatchOptions, metrics: MeshMetrics) {
  const { log } = watch;
  const credentials = new ConnectCredentials(consul, service, watch);
  credentials.start();
  const waiting = setInterval(
    () => log.warn({ consul: consul.baseUrl, service }, "waiting for a mesh certificate from Consul's Connect CA"),
    5000,
  );
  const initial = await credentials.ready().finally(() => clearInterval(waiting));
  metrics.certificateIssued(initial.validBefore);
  credentials.onChange((next) => metrics.certificateIssued(next.validBefore));
  return { credentials, tls: new MeshTls(credentials, initial) };
}

function clusterView(clusters: ReadonlyMap<string, Cluster>) {
  return Object.fromEntries(
    [...clusters].map(([name, cluster]) => [
      name,
      {
        breaker: cluster.breakers.state,
        breakers: cluster.breakers.methodStates(),
        bulkhead: { active: cluster.bulkhead.active, queued: cluster.bulkhead.queued, ...cluster.bulkhead.config },
        endpoints: cluster.endpoints.map((endpoint) => ({
          address: endpoint.address,
          outstanding: endpoint.outstanding,
          latencyEwmaMs: Math.round(cluster.latencyEwmaMs(endpoint) * 100) / 100,
          ejected: cluster.isEjected(endpoint),
          ejectedUntil:
            endpoint.outlier.ejectedUntil > Date.now() ? new Date(endpoint.outlier.ejectedUntil).toISOString() : null,
          ejections: endpoint.outlier.ejections,
          consecutiveFailures: endpoint.outlier.consecutiveFailures,
        })),
      },
    ]),
  );
}

function certsView(tls: MeshTls | undefined, intentions: IntentionWatch | undefined) {
  if (!tls) return { tls: "off" };
  const { serviceUri, serial, validBefore, trustDomain, roots } = tls.current;
  return {
    tls: "mutual",
    serviceUri,
    serial,
    validBefore,
    trustDomain,
    roots: roots.length,
    intentions: intentions?.current,
  };
}

/**
 * The inbound listener's entry in `/clusters`, named as Envoy names its inbound clusters: the `|` keeps it apart from
 * every upstream (upstream names are lower-case letters, digits and dashes).
 */
export const INBOUND_CLUSTER = "inbound|app";

/** Starts the sidecar's listeners (inbound and outbound when configured, admin always). */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const { config, catalog, log } = options;
  checkHedging(config, catalog);
  const tracer = options.tracing?.tracer;
  const metrics = new MeshMetrics();
  const consul = config.consul && consulClient(config.consul);
  const watch = {
    waitMs: config.consul?.watchWaitMs ?? 30_000,
    minIntervalMs: config.consul?.watchMinIntervalMs ?? 250,
    log,
  };
  // The schema makes mesh TLS need both Consul and the service's name.
  const service = config.service as string;
  const identity = config.tls.enabled && consul ? await meshIdentity(consul, service, watch, metrics) : undefined;
  const intentions =
    identity && consul && config.inbound
      ? // A changed intention must reach new calls within a second, whatever the discovery pacing.
        new IntentionWatch(consul, service, { ...watch, minIntervalMs: Math.min(watch.minIntervalMs, 250) })
      : undefined;
  intentions?.start();
  const pool = new SessionPool(config.limits.connectTimeoutMs, identity?.tls);
  identity?.credentials.onChange(() => pool.retireSecure());
  const inFlight = new InFlight();
  const router = new Router(config.upstreams);
  const clusters = new Map<string, Cluster>();
  const stopWatches: (() => void)[] = [];
  if (identity)
    stopWatches.push(
      () => identity.credentials.stop(),
      () => identity.tls.close(),
    );
  if (intentions) stopWatches.push(() => intentions.close());
  const staticEndpoints = new StaticEndpoints(
    Object.fromEntries(Object.entries(config.upstreams).map(([name, upstream]) => [name, upstream.endpoints])),
  );
  const discovered =
    options.endpoints ??
    (consul &&
      new ConsulEndpoints(consul, {
        ...watch,
        onServices: (upstream, services) => {
          for (const service of services) router.addService(service, upstream);
        },
        onError: (upstream) => metrics.discoveryFailed(upstream),
      }));
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const cluster = new Cluster(name, resolveUpstreamPolicy(config.defaults, upstream), metrics);
    clusters.set(name, cluster);
    // Listed endpoints win; without them the upstream is discovered (when a discovery source exists).
    const source = upstream.endpoints.length > 0 || !discovered ? staticEndpoints : discovered;
    stopWatches.push(
      source.watch(name, (addresses) => {
        cluster.setEndpoints(addresses);
        metrics.endpointsKnown(name, addresses.length);
      }),
    );
  }
  let draining = false;
  let drained: Promise<void> | undefined;

  const servers: Server[] = [];
  const h2Servers: H2Server[] = [];
  const ports: { inbound?: number; outbound?: number; admin: number; health?: number } = { admin: 0 };
  const closeAll = async () => {
    for (const stop of stopWatches) stop();
    h2Servers.forEach(goAway);
    await Promise.all(servers.map(closeServer));
    pool.close();
    await options.tracing?.shutdown();
  };
  try {
    if (config.inbound) {
      const inbound = createInboundListener({
        inbound: config.inbound,
        limits: config.limits,
        pool,
        catalog,
        metrics,
        inFlight,
        log,
        tracer,
        draining: () => draining,
        mesh:
          identity && intentions
            ? {
                service,
                intentions,
                secure: {
                  tls: identity.tls,
                  handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
                  onRefused: (kind, reason) => {
                    metrics.connectionRefused(kind);
                    log.debug({ reason }, "inbound connection refused");
                  },
                },
              }
            : undefined,
      });
      h2Servers.push(inbound);
      servers.push(inbound.net);
      ports.inbound = await listen(inbound.net, config.inbound.listen);
    }
    if (config.outbound) {
      const outbound = createOutboundListener({
        config,
        router,
        clusters,
        catalog,
        pool,
        metrics,
        inFlight,
        log,
        tracer,
      });
      h2Servers.push(outbound);
      servers.push(outbound.net);
      ports.outbound = await listen(outbound.net, config.outbound.listen);
    }
    const inbound = config.inbound;
    const readiness = async () => {
      if (draining) return "draining";
      const leaf = identity?.tls.current;
      if (leaf && leaf.validBefore.getTime() <= Date.now()) return "the mesh certificate expired and was not renewed";
      return inbound ? checkAppHealth(pool, inbound.app, 1000) : undefined;
    };
    const admin = createAdminServer({
      metrics,
      readiness,
      // The inbound listener's limit beside the upstreams (absent without an inbound listener).
      clusters: () => ({ ...clusterView(clusters), [INBOUND_CLUSTER]: metrics.inboundState() }),
      certs: () => certsView(identity?.tls, intentions),
      config: () => config,
    });
    servers.push(admin);
    ports.admin = await listen(admin, config.admin.listen);
    if (identity && inbound) {
      const health = createHealthServer(readiness, metrics);
      servers.push(health);
      ports.health = await listen(health, config.tls.healthListen ?? joinAddress(splitAddress(inbound.listen).host, 0));
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  log.info({ ports, upstreams: [...clusters.keys()] }, "sidecar listening");
  const registration =
    consul && config.consul?.register && config.service && config.inbound && ports.inbound !== undefined
      ? new ConsulRegistration(
          consul,
          buildRegistration(config.service, config.consul, config.inbound, {
            inbound: ports.inbound,
            admin: ports.admin,
            health: ports.health,
          }),
          log,
        )
      : undefined;
  registration?.start();

  return {
    ports,
    metrics,
    clusters,
    router,
    registration: registration?.registration,
    drain() {
      draining = true;
      drained ??= drainOnce();
      return drained;
    },
    async close() {
      await registration?.stop();
      await closeAll();
    },
  };

  async function drainOnce() {
    log.info({ inFlight: inFlight.size }, "draining");
    // Leave the catalog first, so callers stop picking this instance while its calls finish.
    await registration?.stop();
    const finished = await inFlight.drained(config.drainTimeoutMs);
    if (!finished) log.warn({ inFlight: inFlight.size }, "drain timeout passed; closing the remaining calls");
    await closeAll();
  }
}
