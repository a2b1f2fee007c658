import type { MigrationObject } from "@mikro-orm/core";
import type { EntityManager, EntitySchema, MikroORM } from "@mikro-orm/postgresql";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { openDatabase } from "../db/database.ts";
import { transactionWithEvents } from "../events/committed-events.ts";
import { type ConsumerDeps, type ConsumerOptions, startConsumer } from "../events/consumer-runner.ts";
import { OutboxRelay } from "../events/outbox-relay.ts";
import { ensureStreams, inCluster, SHOP_STREAMS } from "../events/streams.ts";
import type { ServiceImplementation } from "../grpc/handlers.ts";
import { type RunningGrpcServer, startGrpcServer } from "../grpc/server.ts";
import { readEnv, runtimeEnv, streamEnv } from "./env-config.ts";
import { serveMetrics } from "./metrics-server.ts";

/** What a service's handlers and consumers work with. */
export interface ServiceContext {
  orm: MikroORM;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  relay: OutboxRelay;
  log: Logger;
  /** The service's Prometheus metrics (served on METRICS_LISTEN): the kit's per consumer, and the service's own. */
  metrics: Registry;
}

export interface ServiceDefinition {
  name: string;
  databaseUrl: string;
  /** One NATS server, or a cluster's servers separated by commas (NATS_URL). */
  natsUrl: string;
  grpc: { host: string; port: number };
  entities: EntitySchema[];
  migrations: MigrationObject[];
  /** Connections of the database pool (default 10). */
  poolSize?: number;
  log: Logger;
  /** Runs once the database is migrated, before serving (for example idempotent seeding). */
  prepare?: (context: ServiceContext) => Promise<void>;
  services: (context: ServiceContext) => ServiceImplementation[];
  consumers: (context: ServiceContext) => Omit<ConsumerOptions, "stream">[];
  /** Background work (for example a deadline sweeper); the returned function stops it. */
  background?: (context: ServiceContext) => () => Promise<void>;
  /** Where to serve the metrics, host:port (default METRICS_LISTEN; neither: not served). */
  metricsListen?: string;
  /** The ceiling of must-complete consumers' retry delay (default EVENT_RETRY_CEILING_MS, 5 min). */
  eventRetryCeilingMs?: number;
}

export interface RunningService {
  readonly context: ServiceContext;
  readonly server: RunningGrpcServer;
  /** `host:port` the metrics are served on, when they are. */
  readonly metricsAddress: string | undefined;
  /** Stops serving (finishing in-flight calls), stops consumers and background work, flushes the outbox, closes. */
  stop(graceMs?: number): Promise<void>;
}

/** Runs work in one transaction and hands the events it wrote to the outbox relay once it commits: they go out at once. */
export async function transaction<T>(context: ServiceContext, work: (em: EntityManager) => Promise<T>): Promise<T> {
  const { result, events } = await transactionWithEvents(context.orm, work);
  context.relay.publishCommitted(events);
  return result;
}

/** The servers of a NATS_URL: one URL, or several separated by commas. */
function natsServers(natsUrl: string): string[] {
  return natsUrl
    .split(",")
    .map((url) => url.trim())
    .filter(Boolean);
}

/**
 * Starts a service: metrics listener, database (migrated), NATS streams, outbox relay, gRPC server, consumers,
 * background work. The metrics listener comes first: an address taken fails the start before anything else opened.
 */
export async function startService(definition: ServiceDefinition): Promise<RunningService> {
  const env = readEnv({ ...streamEnv, ...runtimeEnv });
  const metrics = new Registry();
  const listen = definition.metricsListen ?? env.METRICS_LISTEN;
  const metricsServer = listen ? await serveMetrics(metrics, listen) : undefined;
  try {
    const running = await startParts(definition, metrics, {
      streamReplicas: env.NATS_STREAM_REPLICAS,
      retryCeilingMs: definition.eventRetryCeilingMs ?? env.EVENT_RETRY_CEILING_MS,
    });
    return {
      ...running,
      metricsAddress: metricsServer?.address,
      async stop(graceMs) {
        try {
          await running.stop(graceMs);
        } finally {
          await metricsServer?.close();
        }
      },
    };
  } catch (error) {
    await metricsServer?.close();
    throw error;
  }
}

async function startParts(
  definition: ServiceDefinition,
  metrics: Registry,
  settings: { streamReplicas: number | undefined; retryCeilingMs: number },
): Promise<Omit<RunningService, "metricsAddress">> {
  const log = definition.log;
  const orm = await openDatabase({
    url: definition.databaseUrl,
    entities: definition.entities,
    migrations: definition.migrations,
    poolSize: definition.poolSize,
    log,
  });
  // Never give up reconnecting; with a cluster, the client also learns of servers not listed and tries those too.
  const nc = await connect({
    servers: natsServers(definition.natsUrl),
    name: definition.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const js = jetstream(nc, { timeout: 5000 });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, SHOP_STREAMS, { explicit: settings.streamReplicas, clustered: inCluster(nc.info) });
  const relay = new OutboxRelay(orm, js, log.child({ part: "outbox-relay" }));
  const context: ServiceContext = { orm, nc, js, jsm, relay, log, metrics };
  await definition.prepare?.(context);
  relay.start();
  const server = await startGrpcServer({ services: definition.services(context), ...definition.grpc, logger: log });
  const consumerDeps: ConsumerDeps = {
    js,
    jsm,
    orm,
    log,
    metrics,
    onApplied: (events) => relay.publishCommitted(events),
  };
  const consumers = await Promise.all(
    definition.consumers(context).map((options) =>
      startConsumer(consumerDeps, {
        retryCeilingMs: settings.retryCeilingMs,
        ...options,
        stream: SHOP_STREAMS.events.name,
      }),
    ),
  );
  const stopBackground = definition.background?.(context);
  return {
    context,
    server,
    async stop(graceMs = 5000) {
      await server.shutdown(graceMs);
      await stopBackground?.();
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await relay.stop();
      await nc.drain().catch(() => undefined);
      await orm.close();
    },
  };
}
