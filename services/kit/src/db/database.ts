import type { MigrationObject } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { type EntitySchema, MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "pino";
import { kitEntities, kitMigrations } from "./kit-tables.ts";

export interface DatabaseOptions {
  /** postgres://user:password@host:port/database — one database per service. */
  url: string;
  /** The service's own entities; the kit adds its outbox and inbox tables. */
  entities: EntitySchema[];
  /** The service's migrations, in order, after the kit's own. */
  migrations: MigrationObject[];
  log: Logger;
  poolSize?: number;
}

/** How long a query waits for a connection (the database down, or every connection busy) before it fails. */
const CONNECTION_WAIT_MS = 10_000;

// Any fixed number: instances of one service share a database, and the lock is per database.
const MIGRATION_LOCK = 7_240_001;

/**
 * Runs migrations under a PostgreSQL advisory lock, so instances of a service that start together migrate one
 * after the other instead of racing to create the same tables.
 */
async function withMigrationLock<T>(url: string, migrate: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    return await migrate();
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** Opens a service's database with MikroORM and applies every pending migration before anything else runs. */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const orm = await MikroORM.init({
    clientUrl: options.url,
    entities: [...kitEntities, ...options.entities],
    extensions: [Migrator],
    // Silent: the applied migrations are logged below, as one structured line.
    migrations: {
      migrationsList: [...kitMigrations, ...options.migrations],
      transactional: true,
      allOrNothing: true,
      silent: true,
    },
    // While the database restarts, queries wait for a connection (new ones are tried every 200 ms) instead of
    // failing at once: a short outage is ridden through within the callers' deadlines.
    pool: {
      min: 0,
      max: options.poolSize ?? 10,
      propagateCreateError: false,
      acquireTimeoutMillis: CONNECTION_WAIT_MS,
      createRetryIntervalMillis: 200,
    },
    // knex's own warnings (a connection lost while the database restarts) go through the service's logger, not
    // straight to the console.
    driverOptions: {
      log: {
        warn: (message: string) => options.log.warn({ component: "knex" }, message),
        error: (message: string) => options.log.error({ component: "knex" }, message),
        deprecate: (message: string) => options.log.warn({ component: "knex" }, message),
        debug: (message: string) => options.log.debug({ component: "knex" }, message),
      },
    },
    allowGlobalContext: false,
    debug: false,
  });
  const applied = await withMigrationLock(options.url, () => orm.getMigrator().up());
  if (applied.length) options.log.info({ migrations: applied.map((each) => each.name) }, "migrations applied");
  return orm;
}
