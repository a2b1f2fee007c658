import type { MigrationObject } from "@mikro-orm/core";
import type { EntityManager, EntitySchema, MikroORM } from "@mikro-orm/postgresql";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { openDatabase } from "../db/database.ts";
import { transactionWithEvents } from "../events/committed-events.ts";
import { type ConsumerOptions, startConsumer } from "../events/consumer-runner.ts";
import { OutboxRelay } from "../events/outbox-relay.ts";
import { ensureStreams, inCluster, SHOP_STREAMS } from "../events/streams.ts";
import type { ServiceImplementation } from "../grpc/handlers.ts";
import { type RunningGrpcServer, startGrpcServer } from "../grpc/server.ts";
import { readEnv, streamEnv } from "./env-config.ts";

/** What a service's handlers and consumers work with. */
export interface ServiceContext {
  orm: MikroORM;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  relay: OutboxRelay;
  log: Logger;
}

export interface ServiceDefinition {
  name: string;
  databaseUrl: string;
  /** One NATS server, or a cluster's servers separated by commas (NATS_URL). */
  natsUrl: string;
  grpc: { host: string; port: number };
  entities: EntitySchema[];
  migrations: MigrationObject[];
  log: Logger;
  /** Runs once the database is migrated, before serving (for example idempotent seeding). */
  prepare?: (context: ServiceContext) => Promise<void>;
  services: (context: ServiceContext) => ServiceImplementation[];
  consumers: (context: ServiceContext) => Omit<ConsumerOptions, "stream">[];
  /** Background work (for example a deadline sweeper); the returned function stops it. */
  background?: (context: ServiceContext) => () => Promise<void>;
}

export interface RunningService {
  readonly context: ServiceContext;
  readonly server: RunningGrpcServer;
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

/** Starts a service: database (migrated), NATS streams, outbox relay, gRPC server, consumers, background work. */
export async function startService(definition: ServiceDefinition): Promise<RunningService> {
  const log = definition.log;
  const orm = await openDatabase({
    url: definition.databaseUrl,
    entities: definition.entities,
    migrations: definition.migrations,
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
  await ensureStreams(jsm, SHOP_STREAMS, {
    explicit: readEnv(streamEnv).NATS_STREAM_REPLICAS,
    clustered: inCluster(nc.info),
  });
  const relay = new OutboxRelay(orm, js, log.child({ part: "outbox-relay" }));
  const context: ServiceContext = { orm, nc, js, jsm, relay, log };
  await definition.prepare?.(context);
  relay.start();
  const server = await startGrpcServer({ services: definition.services(context), ...definition.grpc, logger: log });
  const consumers = await Promise.all(
    definition
      .consumers(context)
      .map((options) =>
        startConsumer(
          { js, jsm, orm, log, onApplied: (events) => relay.publishCommitted(events) },
          { ...options, stream: SHOP_STREAMS.events.name },
        ),
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
