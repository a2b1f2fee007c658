import type { MigrationObject } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { type EntitySchema, MikroORM } from "@mikro-orm/postgresql";
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
    pool: { min: 0, max: options.poolSize ?? 10 },
    allowGlobalContext: false,
    debug: false,
  });
  const applied = await orm.getMigrator().up();
  if (applied.length) options.log.info({ migrations: applied.map((each) => each.name) }, "migrations applied");
  return orm;
}
