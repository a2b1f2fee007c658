// Completed sagas per second, saga completion latency, and where each saga's cost goes, on this machine, through
// the real shop: a private nats-server and PostgreSQL, the services with their sidecars, orders placed with a fixed
// number in flight.
//
//   npm run bench:saga                     every service and sidecar in one process (about 40 s),
//                                          writes bench/results/saga-throughput.md
//   npm run bench:saga -- --mesh           the local mesh, a process per service and sidecar, two instances of each,
//                                          writes bench/results/saga-throughput-mesh.md
//   npm run bench:saga -- --quick          a short run of either, for checking that the script works (prints only)
//
// Completion is seen on the event stream (OrderConfirmed or OrderCancelled for the order), not by polling. After
// the load, an idle saga (one order, nothing else in flight) is timed too. Per completed saga, the report splits
// CPU milliseconds by process and counts each service database's statements (every one a round trip).
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { publishReport } from "./publish-report.ts";
import { type CostReport, measureCost } from "./saga-cost-report.ts";
import { runSagaLoad, type SagaLoadResult } from "./saga-load.ts";
import { inProcessShop, meshShop, type SagaTarget } from "./saga-targets.ts";

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, mesh: { type: "boolean", default: false } },
});
const IN_FLIGHT = 32;
const SECONDS = args.quick ? 5 : 30;
const WARMUP_SECONDS = args.quick ? 1 : 5;
const IDLE_SAGAS = args.quick ? 5 : 20;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function throughputRows(load: SagaLoadResult, idle: number[], invariants: string[]) {
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const idleSorted = [...idle].sort((a, b) => a - b);
  return [
    "| completed sagas | per second | confirmed | cancelled | p50 ms | p99 ms | max ms | idle saga p50 ms | invariants after the run |",
    "|---|---|---|---|---|---|---|---|---|",
    `| ${sorted.length} | ${(sorted.length / load.seconds).toFixed(1)} | ${sorted.length - load.cancelled} | ${load.cancelled} | ` +
      `${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.99).toFixed(1)} | ${(sorted.at(-1) ?? 0).toFixed(1)} | ` +
      `${percentile(idleSorted, 0.5).toFixed(1)} | ${invariants.length ? `VIOLATED: ${invariants.slice(0, 3).join("; ")}` : "hold"} |`,
  ];
}

/** Orders that could not be placed (each is a failed call through the mesh), or nothing when there were none. */
function failedPlacementLines(...runs: SagaLoadResult[]) {
  const failures = new Map<string, number>();
  for (const run of runs)
    for (const [message, count] of run.failedPlacements) failures.set(message, (failures.get(message) ?? 0) + count);
  if (failures.size === 0) return [];
  return [
    "Orders that could not be placed (not counted above):",
    "",
    ...[...failures].map(([message, count]) => `- ${count} × ${message}`),
    "",
  ];
}

function costRows(cost: CostReport, sagas: number) {
  const perSaga = (n: number) => (n / Math.max(1, sagas)).toFixed(2);
  const cpuTotal = [...cost.cpuMs.values()].reduce((a, b) => a + b, 0);
  return [
    "CPU per completed saga, by process (user + system, from /proc):",
    "",
    "| process | CPU ms per saga |",
    "|---|---|",
    ...[...cost.cpuMs].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `| ${name} | ${perSaga(ms)} |`),
    `| **all** | **${perSaga(cpuTotal)}** |`,
    "",
    "Statements per completed saga, by service database (pg_stat_statements; each is a round trip; BEGIN and COMMIT count):",
    "",
    "| database | statements per saga | of which (calls per saga, the most frequent first) |",
    "|---|---|---|",
    ...[...cost.statements].map(([database, statements]) => {
      const total = statements.reduce((sum, each) => sum + each.calls, 0);
      const top = statements
        .filter((each) => each.calls / sagas >= 0.05)
        .map((each) => `${perSaga(each.calls)} \`${each.query.slice(0, 90).replaceAll("|", "\\|")}\``)
        .join("<br>");
      return `| ${database} | ${perSaga(total)} | ${top} |`;
    }),
  ];
}

async function run(target: SagaTarget) {
  await runSagaLoad(target, { inFlight: IN_FLIGHT, seconds: WARMUP_SECONDS });
  const { load, cost } = await measureCost(target, () =>
    runSagaLoad(target, { inFlight: IN_FLIGHT, seconds: SECONDS }),
  );
  const idle = await runSagaLoad(target, { inFlight: 1, sagas: IDLE_SAGAS });
  const report = await target.settle();
  const lines = [
    `# Saga throughput${args.mesh ? " on the process-per-service mesh" : ""}, measured`,
    "",
    `Produced by \`npm run bench:saga${args.mesh ? " -- --mesh" : ""}${args.quick ? " --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ` +
      `${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}; ${target.description}; all on the same machine.`,
    "",
    `Load: ${IN_FLIGHT} orders in flight for ${SECONDS} s (after ${WARMUP_SECONDS} s of warm-up), one line each; a saga is complete when OrderConfirmed (or OrderCancelled) for it is on the stream.`,
    `Then ${IDLE_SAGAS} orders one at a time with nothing else in flight: the idle saga.`,
    "Each saga crosses: CreateOrder (priced from order's price list, which it refreshes from inventory through the sidecar every 5 s), OrderCreated -> inventory reserves -> payment charges the",
    "gateway through its sidecar -> order confirms -> inventory commits: database transactions with outbox rows and five events.",
    "",
    ...throughputRows(load, idle.latencies, report.violations),
    "",
    ...failedPlacementLines(load, idle),
    ...costRows(cost, load.latencies.length),
    "",
  ];
  await publishReport(args.mesh ? "saga-throughput-mesh" : "saga-throughput", lines.join("\n"), !args.quick);
}

const SAGA_TIMEOUT_MS = 30_000;
const target = args.mesh ? await meshShop(SAGA_TIMEOUT_MS) : await inProcessShop(SAGA_TIMEOUT_MS);
try {
  await run(target);
} finally {
  await target.stop();
}
