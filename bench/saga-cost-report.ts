// Samples CPU and statement counts around a piece of work: what it cost, by process and by service database.
import { cpuBetween, readStatements, resetStatements, type StatementCount, sampleCpu } from "./saga-cost.ts";
import type { SagaTarget } from "./saga-targets.ts";

export interface CostReport {
  /** CPU milliseconds by process name. */
  cpuMs: Map<string, number>;
  /** Statements by service database. */
  statements: Map<string, StatementCount[]>;
}

export async function measureCost<T>(
  target: SagaTarget,
  work: () => Promise<T>,
): Promise<{ load: T; cost: CostReport }> {
  const databases = Object.entries(target.databaseUrls);
  await Promise.all(databases.map(([, url]) => resetStatements(url)));
  const processes = await target.processes();
  const before = await sampleCpu(processes);
  const load = await work();
  // Connections opened during the run (a pool growing) count from their start.
  const after = [...processes, ...(await target.processes())];
  const cpuMs = cpuBetween(before, await sampleCpu(after), after);
  const statements = new Map(
    await Promise.all(databases.map(async ([name, url]) => [name, await readStatements(url)] as const)),
  );
  return { load, cost: { cpuMs, statements } };
}
