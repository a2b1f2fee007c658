// Where a saga's cost goes: CPU time per process (read from /proc, so every process counts alike, whatever runs in
// it) and statements per service database (pg_stat_statements, which the benchmark's PostgreSQL preloads). Sampled
// before and after a run; the difference divided by the completed sagas is the per-saga breakdown.
import { readdir, readFile } from "node:fs/promises";
import pg from "pg";

/** A process the benchmark accounts for, by the name its row has in the report. */
export interface AccountedProcess {
  name: string;
  pid: number;
}

/** Clock ticks per second of /proc's utime and stime: USER_HZ, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * The fields of /proc/<pid>/stat after the command name (field 3, the state, first), or undefined once the process
 * is gone. The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
 */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** User plus system CPU milliseconds of a process so far (fields 14 and 15), or undefined once it is gone. */
export async function cpuMs(pid: number): Promise<number | undefined> {
  const fields = await statFields(pid);
  return fields && ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** A process's parent (field 4). */
async function parentOf(pid: number): Promise<number | undefined> {
  const fields = await statFields(pid);
  return fields && Number(fields[1]);
}

async function childrenOf(pid: number): Promise<number[]> {
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = await Promise.all(pids.map(parentOf));
  return pids.filter((_, index) => parents[index] === pid);
}

/**
 * PostgreSQL's processes, each named by what it works for: `postgres (<database>)` for a connection's backend,
 * `postgres (server)` for the postmaster and its background workers (WAL writer, checkpointer, autovacuum).
 */
export async function postgresProcesses(postmasterPid: number, adminUrl: string): Promise<AccountedProcess[]> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; datname: string }>(
      "select pid, datname from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    );
    const databaseOf = new Map(rows.map((row) => [row.pid, row.datname]));
    const workers = await childrenOf(postmasterPid);
    return [postmasterPid, ...workers].map((pid) => ({
      name: `postgres (${databaseOf.get(pid) ?? "server"})`,
      pid,
    }));
  } finally {
    await client.end();
  }
}

/** CPU milliseconds per process at one moment, by pid. */
export async function sampleCpu(processes: AccountedProcess[]): Promise<Map<number, number>> {
  const samples = await Promise.all(processes.map((each) => cpuMs(each.pid)));
  return new Map(processes.map((each, index) => [each.pid, samples[index] ?? 0]));
}

/**
 * CPU milliseconds each named process (rows of the same name summed) spent between two samples. A process that
 * appeared after the first sample counts from its start; one gone by the second counts as nothing (the loss is
 * small: the benchmark's processes live through the run).
 */
export function cpuBetween(
  before: Map<number, number>,
  after: Map<number, number>,
  processes: AccountedProcess[],
): Map<string, number> {
  const spent = new Map<string, number>();
  const seen = new Set<number>();
  for (const each of processes) {
    if (seen.has(each.pid)) continue;
    seen.add(each.pid);
    const delta = (after.get(each.pid) ?? 0) - (before.get(each.pid) ?? 0);
    spent.set(each.name, (spent.get(each.name) ?? 0) + Math.max(0, delta));
  }
  return spent;
}

/** One statement's executions in a database, as pg_stat_statements normalises it. */
export interface StatementCount {
  query: string;
  calls: number;
}

/** Turns pg_stat_statements on in the database (the library must be preloaded) and zeroes its counts. */
export async function resetStatements(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("create extension if not exists pg_stat_statements");
    await client.query("select pg_stat_statements_reset()");
  } finally {
    await client.end();
  }
}

/** Statements executed in the database since the reset, by anyone but the superuser's own bookkeeping. */
export async function readStatements(url: string): Promise<StatementCount[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ query: string; calls: string }>(
      `select query, calls from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = current_database() and query not like '%pg_stat_statements%' order by calls desc`,
    );
    return rows.map((row) => ({ query: row.query.replace(/\s+/g, " "), calls: Number(row.calls) }));
  } finally {
    await client.end();
  }
}

/** The PostgreSQL setting that makes statement counts available (pass to startPostgres's settings). */
export const STATEMENT_COUNTING = { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.max": "1000" };
