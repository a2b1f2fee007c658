// A long run of the whole local mesh (the fault suite's topology and load, no faults) with every process's resident
// memory sampled over time: growth after the warm-up would be a leak.
//
//   npm run bench:soak                  10 minutes, writes bench/results/soak.md
//   npm run bench:soak -- --minutes 2   a shorter run
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { REPLICAS, startDrillMesh } from "./drill-mesh.ts";
import { startMixedLoad } from "./mixed-load.ts";
import { rssMiB } from "./process-probes.ts";
import { publishReport } from "./publish-report.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "10" } } });
const minutes = Number(values.minutes);
if (!(minutes >= 1)) throw new Error(`--minutes must be a number of at least 1, got ${values.minutes}`);
const SAMPLE_EVERY_MS = 10_000;
/**
 * V8 sizes its heap to the load over the first minutes, then its resident memory saw-tooths between collections;
 * a leak keeps climbing. So growth is the median of the last quarter of the samples against the median of the
 * second quarter (medians ride out the saw-tooth), and more than this counts.
 */
const GROWTH_LIMIT = 0.15;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** The second quarter's median and the last quarter's, of a series of samples. */
function quarters(series: number[]): [number, number] {
  const quarter = Math.max(1, Math.floor(series.length / 4));
  return [median(series.slice(quarter, 2 * quarter)), median(series.slice(-quarter))];
}

/** One median per minute, to show the course of a long series in a table cell. */
function perMinute(series: number[]): number[] {
  const perMinuteSamples = 60_000 / SAMPLE_EVERY_MS;
  const minutes: number[] = [];
  for (let start = 0; start < series.length; start += perMinuteSamples)
    minutes.push(median(series.slice(start, start + perMinuteSamples)));
  return minutes;
}

const drill = await startDrillMesh({ sagaTimeoutMs: 30_000 });
const processes = [
  ...drill.mesh.instances.flatMap((instance) =>
    instance.processes.map((each) => ({ name: each.name, pid: each.child.pid ?? 0 })),
  ),
  { name: "client sidecar", pid: drill.clientSidecar.child.pid ?? 0 },
];
const samples = new Map<string, number[]>(processes.map((each) => [each.name, []]));
const started = Date.now();
let lines: string[] = [];
let failed = true;
try {
  await drill.restock(500);
  const load = startMixedLoad(drill.gateway, "soak");
  for (let round = 1; Date.now() - started < minutes * 60_000; round++) {
    await sleep(SAMPLE_EVERY_MS);
    for (const each of processes) samples.get(each.name)?.push(await rssMiB(each.pid));
    await drill.restock(200);
    if (round % 6 === 0) process.stdout.write(`${((Date.now() - started) / 60_000).toFixed(1)} min sampled\n`);
  }
  const result = await load.stop();
  const seconds = (Date.now() - started) / 1000;
  const { report } = await drill.settle();
  const growing: string[] = [];
  const rows = processes.map(({ name }) => {
    const series = samples.get(name) ?? [];
    const [base, end] = quarters(series);
    const peak = Math.max(...series);
    const change = base ? (end - base) / base : 0;
    if (change > GROWTH_LIMIT) growing.push(name);
    const mib = (value: number) => value.toFixed(0);
    return `| ${name} | ${mib(base)} | ${mib(peak)} | ${mib(end)} | ${change >= 0 ? "+" : ""}${(change * 100).toFixed(1)}% | ${perMinute(series).map(mib).join(" ")} |`;
  });
  const calls = result.reads.calls + result.views.calls + result.orders.calls;
  const failures = result.reads.failures + result.views.failures + result.orders.failures;
  const firstError = result.reads.errors[0] ?? result.orders.errors[0] ?? result.views.errors[0];
  failed = failures > 0 || report.violations.length > 0 || growing.length > 0;
  lines = [
    "# Soak, measured",
    "",
    `Produced by \`npm run bench:soak\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, Node ${process.version}; ${minutes} minutes of the local mesh`,
    `(${Object.entries(REPLICAS)
      .map(([service, replicas]) => `${service} ×${replicas}`)
      .join(", ")}, provider ×1, every one behind its sidecar, plus the load's client sidecar) under the fault suite's`,
    "load: 3 ListProducts, 1 GetOrderView and 1 PlaceOrder in flight at all times through the client sidecar.",
    `Resident memory (MiB) sampled every ${SAMPLE_EVERY_MS / 1000} s; growth is the last quarter's median against the second quarter's (after V8 has sized its heap).`,
    "",
    `Calls: ${calls} in ${seconds.toFixed(0)} s (${(calls / seconds).toFixed(0)}/s; reads ${result.reads.calls}, views ${result.views.calls}, orders ${result.orders.calls}), failed: ${failures}${firstError ? ` (${firstError})` : ""}.`,
    `Orders afterwards: ${report.orders.confirmed} confirmed, ${report.orders.cancelled} cancelled, invariants ${report.violations.length ? `VIOLATED: ${report.violations.slice(0, 3).join("; ")}` : "hold"}.`,
    `Processes whose memory grew more than ${GROWTH_LIMIT * 100}% from the second quarter of the run to the last: ${growing.length ? growing.join(", ") : "none"}.`,
    "",
    "| process | 2nd quarter median | peak | last quarter median | growth | median of each minute |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
  ];
} finally {
  const leaked = await drill.stop();
  lines.push(`Processes left after the mesh stopped: ${leaked.length === 0 ? "none" : leaked.join(", ")}.`, "");
  if (leaked.length) failed = true;
}
const text = lines.join("\n");
await publishReport("soak", text, true);
if (failed) process.exitCode = 1;
