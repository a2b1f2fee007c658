// Overload: one instance (an app with a fixed CPU cost per call, behind its sidecar) offered load rising to 3x what
// it can serve, every call with a 1 s deadline; goodput (calls answered OK within their deadline, per second) and
// the p99 of admitted calls (those not shed), with the sidecar's adaptive concurrency on and off, in one run.
//
//   npm run bench:overload             full run (about 2 minutes), writes bench/results/overload.md
//   npm run bench:overload -- --quick  a short run, for checking that the script works
//
// The load generator (an open-loop HTTP/2 client in this process: calls go out at the offered rate whatever the
// answers, as independent callers' calls do) runs on CPU 0; the app and both sidecars on CPU 1.

import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { addr, PATH, type Proc, pinned, pinToLoadCpu, ROOT, requireTools, startSidecar, stopAll } from "./echo-mesh.ts";
import { waitForPort } from "./process-probes.ts";
import { publishReport } from "./publish-report.ts";

const quick = process.argv.includes("--quick");
/** CPU time each call costs the app: its capacity is about 1000 / (WORK_MS + its gRPC overhead) calls/s. */
const WORK_MS = 2;
const DEADLINE_MS = 1000;
const STEP_SECONDS = quick ? 2 : 8;
const STEPS = [0.5, 1, 1.5, 2, 2.5, 3];
const CAPACITY = { workers: 64, warmUpSeconds: quick ? 2 : 5, seconds: quick ? 2 : 5 };
/** Connections from the load generator to the sidecar, so no single one caps the calls in flight. */
const CONNECTIONS = 8;
/** An empty EchoRequest, gRPC-framed. */
const BODY = Buffer.alloc(5);

interface Call {
  start: number;
  ms: number;
  /** The gRPC status, or -1 when the call failed below gRPC. */
  code: number;
  shed: boolean;
}

/** HTTP/2 connections to `entry` that send Echo calls and report how each ended. */
function caller(entry: string) {
  const sessions = Array.from({ length: CONNECTIONS }, () => connect(`http://${entry}`));
  let next = 0;
  return {
    call(deadlineMs: number | undefined, done: (call: Call) => void) {
      const session = sessions[next++ % CONNECTIONS];
      if (!session) throw new Error("no session");
      const start = performance.now();
      const headers: Record<string, string> = {
        ":method": "POST",
        ":path": PATH,
        "content-type": "application/grpc",
        te: "trailers",
      };
      if (deadlineMs) headers["grpc-timeout"] = `${deadlineMs}m`;
      const stream = session.request(headers);
      let code = -1;
      let shed = false;
      stream.on("response", (response) => {
        if (response["grpc-status"] !== undefined) code = Number(response["grpc-status"]);
        shed = response["x-mesh-shed"] !== undefined;
      });
      stream.on("trailers", (trailers) => {
        code = Number(trailers["grpc-status"]);
      });
      stream.on("error", () => {});
      stream.on("close", () => done({ start, ms: performance.now() - start, code, shed }));
      stream.resume();
      stream.end(BODY);
    },
    close() {
      for (const session of sessions) session.close();
    },
  };
}

/** Calls answered OK per second over `seconds` by `workers` callers that each send a call once their last is answered. */
async function closedLoop(entry: string, seconds: number): Promise<number> {
  const client = caller(entry);
  let ok = 0;
  let running = true;
  const loop = () =>
    client.call(undefined, (call) => {
      if (!running) return;
      if (call.code === 0) ok++;
      loop();
    });
  for (let i = 0; i < CAPACITY.workers; i++) loop();
  await sleep(seconds * 1000);
  running = false;
  await sleep(500);
  client.close();
  return ok / seconds;
}

interface Step {
  multiple: number;
  offered: number;
  goodput: number;
  shed: number;
  deadlineExceeded: number;
  p99Admitted: number;
  /** The sidecar's concurrency limit at the step's end. */
  limit: number | undefined;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function summarize(multiple: number, calls: Call[], limit: number | undefined): Step {
  const per = (count: number) => count / STEP_SECONDS;
  const admitted = calls.filter((call) => !call.shed);
  return {
    multiple,
    offered: per(calls.length),
    goodput: per(calls.filter((call) => call.code === 0 && call.ms <= DEADLINE_MS).length),
    shed: per(calls.length - admitted.length),
    deadlineExceeded: per(calls.filter((call) => call.code === 4).length),
    p99Admitted: percentile(
      admitted.map((call) => call.ms),
      0.99,
    ),
    limit,
  };
}

async function inboundLimit(admin: string): Promise<number | undefined> {
  const clusters = (await (await fetch(`http://${admin}/clusters`)).json()) as { inbound?: { limit: number } };
  return clusters.inbound?.limit;
}

/**
 * Open-loop load at each step's rate (the calls due sent every 2 ms); each call counts in the step it started in,
 * once every call has finished.
 */
async function ramp(entry: string, admin: string, capacity: number): Promise<Step[]> {
  const client = caller(entry);
  const byStep: Call[][] = [];
  const limits: (number | undefined)[] = [];
  let outstanding = 0;
  for (const multiple of STEPS) {
    const rate = (capacity * multiple) / 1000;
    const calls: Call[] = [];
    byStep.push(calls);
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < STEP_SECONDS * 1000) {
      const due = Math.floor((performance.now() - start) * rate);
      for (; sent < due; sent++) {
        outstanding++;
        client.call(DEADLINE_MS, (call) => {
          outstanding--;
          calls.push(call);
        });
      }
      await sleep(2);
    }
    limits.push(await inboundLimit(admin));
  }
  // The sidecar answers every call by its deadline.
  while (outstanding > 0) await sleep(50);
  client.close();
  return STEPS.map((multiple, index) => summarize(multiple, byStep[index] ?? [], limits[index]));
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

function table(steps: Step[], capacity: number, adaptive: boolean): string {
  const head = `| offered (x capacity) | offered/s | goodput/s | goodput / capacity | shed/s | deadline exceeded/s | p99 of admitted calls (ms) |${adaptive ? " limit |" : ""}`;
  const rule = `|---|---|---|---|---|---|---|${adaptive ? "---|" : ""}`;
  const rows = steps.map(
    (step) =>
      `| ${step.multiple}x | ${fixed(step.offered)} | ${fixed(step.goodput)} | ${fixed((100 * step.goodput) / capacity)}% | ${fixed(step.shed)} | ${fixed(step.deadlineExceeded)} | ${fixed(step.p99Admitted)} |${adaptive ? ` ${step.limit ?? "-"} |` : ""}`,
  );
  return [head, rule, ...rows].join("\n");
}

const inboundConfig = (listen: string, admin: string, app: string, adaptive: boolean) =>
  `inbound: { listen: "${listen}", app: "${app}", adaptiveConcurrency: { enabled: ${adaptive} } }\n` +
  `admin: { listen: "${admin}" }\n`;

async function main() {
  await requireTools(["taskset"]);
  await pinToLoadCpu();
  const work = await mkdtemp(join(tmpdir(), "mesh-overload-"));
  const procs: Proc[] = [];
  try {
    const app = await addr();
    procs.push(
      pinned("app", process.execPath, [
        "--import",
        "tsx",
        join(ROOT, "bench/overload-app.ts"),
        app.split(":")[1] as string,
        String(WORK_MS),
      ]),
    );
    await waitForPort(app);
    const [on, onAdmin, off, offAdmin] = await Promise.all([addr(), addr(), addr(), addr()]);
    procs.push(await startSidecar(work, "adaptive", inboundConfig(on, onAdmin, app, true), on));
    procs.push(await startSidecar(work, "fixed", inboundConfig(off, offAdmin, app, false), off));

    // Warm both paths (the JIT compiles the hot code of all three processes), then measure the capacity behind the
    // fixed-limit sidecar, whose limit (1024) is far above the callers here: the app's alone.
    for (const entry of [on, off]) await closedLoop(entry, CAPACITY.warmUpSeconds);
    const capacity = await closedLoop(off, CAPACITY.seconds);
    console.error(`capacity: ${capacity.toFixed(0)} calls/s`);
    const adaptive = await ramp(on, onAdmin, capacity);
    console.error("adaptive concurrency on: done");
    // Last: a collapsed run leaves the app a backlog that would weigh on whatever came after.
    const fixedRun = await ramp(off, offAdmin, capacity);
    await publishReport("overload", report(capacity, adaptive, fixedRun), !quick);
  } finally {
    await stopAll(procs);
    await rm(work, { recursive: true, force: true });
  }
}

function report(capacity: number, adaptive: Step[], fixedRun: Step[]): string {
  const overloaded = (steps: Step[]) => steps.filter((step) => step.multiple >= 1.5);
  const worst = (steps: Step[]) => Math.min(...overloaded(steps).map((step) => step.goodput)) / capacity;
  return `# Overload: goodput from 0.5x to 3x capacity, adaptive concurrency on and off

One instance: an app whose every call costs ${WORK_MS} ms of its one thread's CPU (it also works on calls whose
caller already gave up, as most apps do), behind its sidecar with default settings (inbound \`maxConcurrent\` 1024,
\`maxQueue\` 128), adaptive concurrency on (its defaults: minLimit 8, initialLimit 64, tolerance 2, intervalMs 250)
or off. Its capacity, measured first through the sidecar with ${CAPACITY.workers} closed-loop callers:
**${fixed(capacity)} calls/s**. Then open-loop load (calls at a fixed rate whatever the answers), each call with a
${DEADLINE_MS} ms deadline, in ${STEP_SECONDS} s steps rising from 0.5x to 3x that capacity. Goodput: calls answered OK
within their deadline, per second. Admitted calls: those not shed (\`x-mesh-shed\`), queued ones included. The load
generator runs on CPU 0, the app and the sidecars on CPU 1. \`limit\`: the adaptive limit at the end of each step (before
the first, the warm-up's closed-loop callers had raised it). Generated by \`npm run bench:overload\`.

## Adaptive concurrency on

${table(adaptive, capacity, true)}

## Adaptive concurrency off (fixed limit 1024, queue 128)

${table(fixedRun, capacity, false)}

From 1.5x capacity up, the lowest goodput: **${fixed(100 * worst(adaptive))}%** of capacity with adaptive concurrency
on, **${fixed(100 * worst(fixedRun))}%** with it off. Goodput above 100% means the app serves a little more under
overload than to the closed-loop callers that measured its capacity (it then reads many calls per socket read).
`;
}

await main();
