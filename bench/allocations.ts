// Heap bytes allocated, GC pause and CPU time per proxied call, in each of two sidecars: h2load -> the caller's
// sidecar (outbound) -> the app's sidecar (inbound) -> echo app, plaintext, as the `sidecar x2` row of
// bench:sidecar. Allocation discipline shows here without the noise of throughput figures: the heap count is exact.
//
//   npm run bench:alloc                          the sidecar of the working tree (built into sidecar/dist)
//   npm run bench:alloc -- --rev <commit>        the sidecar of a committed revision, built aside from `git archive`
//   npm run bench:alloc -- --label <text>        a note for the results section ("before the h2 rewrite")
//   npm run bench:alloc -- --quick               a short run, for checking that the script works; writes nothing
//
// Each sidecar runs from its esbuild bundle with bench/alloc-probe.mjs preloaded (`node --import`), which counts what
// the process spends between two SIGUSR2 signals (how: see the probe). After a warm-up, one signal to each sidecar
// marks, h2load sends a fixed number of calls, a second signal reads. bench/results/allocations.md keeps a section per
// measured revision, so a run after a change lands next to the one before it.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs, promisify } from "node:util";
import {
  addr,
  checkEcho,
  checkPlaintext,
  grpcErrors,
  h2load,
  LOAD_CPU,
  PATH,
  type Proc,
  pinToLoadCpu,
  ROOT,
  requireTools,
  SERVER_CPU,
  sidecarInbound,
  sidecarOutbound,
  startEchoApp,
  startSidecar,
  stopAll,
  writeEchoFiles,
} from "./echo-mesh.ts";
import { publishReport } from "./publish-report.ts";

const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rev: { type: "string" },
    label: { type: "string" },
  },
});
const quick = options.quick === true;
const LOAD = {
  warmUp: quick ? 2_000 : 20_000,
  calls: quick ? 10_000 : 200_000,
  connections: 4,
  streams: 8,
};
const PROBE = join(ROOT, "bench/alloc-probe.mjs");
const RESULTS = join(ROOT, "bench/results/allocations.md");
const run = promisify(execFile);
const git = async (...args: string[]) => (await run("git", ["-C", ROOT, ...args])).stdout.trim();

/** What the probe writes on each SIGUSR2: the window since the previous one. */
interface Reading {
  seq: number;
  heapBytes: number;
  gcPauseUs: number;
  gcs: Record<string, number>;
  cpuUserUs: number;
  cpuSystemUs: number;
  wallMs: number;
}

interface Probed {
  role: string;
  proc: Proc;
  file: string;
  seq: number;
}

interface Bundle {
  entry: string;
  commit: string;
  subject: string;
  /** Uncommitted changes to the sidecar's sources were in the bundle. */
  dirty: boolean;
  sha256: string;
}

/**
 * The sidecar bundle to measure. Without a revision: the working tree's, built into sidecar/dist as `npm run build`
 * does. With one: that commit's sidecar/src and scripts/build.mjs, unpacked in `work` and built there against this
 * checkout's node_modules (so dependencies and workspace packages, such as proto, are the working tree's).
 */
async function buildBundle(work: string, rev: string | undefined): Promise<Bundle> {
  let commit: string;
  let dirty = false;
  let entry: string;
  if (rev === undefined) {
    commit = await git("rev-parse", "HEAD");
    dirty = (await git("status", "--porcelain", "--", "sidecar/src", "scripts/build.mjs")) !== "";
    await run(process.execPath, ["scripts/build.mjs"], { cwd: ROOT });
    entry = join(ROOT, "sidecar/dist/mesh-sidecar.mjs");
  } else {
    commit = await git("rev-parse", "--verify", `${rev}^{commit}`);
    const tree = join(work, "tree");
    await mkdir(tree);
    const archive = join(work, "sidecar.tar");
    await git("archive", "--format=tar", "-o", archive, commit, "sidecar/src", "scripts/build.mjs");
    await run("tar", ["-xf", archive, "-C", tree]);
    await symlink(join(ROOT, "node_modules"), join(tree, "node_modules"));
    await run(process.execPath, ["scripts/build.mjs"], { cwd: tree });
    entry = join(tree, "sidecar/dist/mesh-sidecar.mjs");
  }
  const sha256 = createHash("sha256")
    .update(await readFile(entry))
    .digest("hex");
  return { entry, commit, subject: await git("log", "-1", "--format=%s", commit), dirty, sha256 };
}

/** Sends SIGUSR2 to each probed sidecar and waits for the readings of those signals. */
async function signal(probed: Probed[]): Promise<Reading[]> {
  for (const probe of probed) {
    probe.seq++;
    probe.proc.child.kill("SIGUSR2");
  }
  return Promise.all(
    probed.map(async (probe) => {
      for (let i = 0; i < 500; i++) {
        const text = await readFile(probe.file, "utf8").catch(() => undefined);
        const reading = text === undefined ? undefined : (JSON.parse(text) as Reading);
        if (reading?.seq === probe.seq) return reading;
        await sleep(20);
      }
      throw new Error(`the ${probe.role} sidecar's probe did not answer signal ${probe.seq}`);
    }),
  );
}

interface Figures {
  role: string;
  heapBytesPerCall: number;
  gcMsPer1kCalls: number;
  scavenges: number;
  markCompacts: number;
  cpuUsPerCall: number;
}

function figures(role: string, reading: Reading, calls: number): Figures {
  return {
    role,
    heapBytesPerCall: reading.heapBytes / calls,
    // (pause µs / 1000) per (calls / 1000)
    gcMsPer1kCalls: reading.gcPauseUs / calls,
    scavenges: reading.gcs.Scavenge ?? 0,
    markCompacts: reading.gcs.MarkSweepCompact ?? 0,
    cpuUsPerCall: (reading.cpuUserUs + reading.cpuSystemUs) / calls,
  };
}

const HEADER = `# Heap allocation, GC pause and CPU per proxied call

Produced by \`npm run bench:alloc\` (bench/allocations.ts): a section per measured sidecar revision, oldest first; a
new run of a revision already here replaces its section.

**Topology**: h2load -> the caller's sidecar (\`outbound\`) -> the app's sidecar (\`inbound\`) -> echo app, plaintext
h2c, every policy at its defaults: the \`sidecar x2\` row of [sidecar-comparison.md](sidecar-comparison.md). h2load on
CPU ${LOAD_CPU}; the app and both sidecars share CPU ${SERVER_CPU}. Each sidecar runs from its esbuild bundle with
bench/alloc-probe.mjs preloaded (\`node --import\`).

**Method**: after a warm-up, SIGUSR2 to each sidecar marks, h2load sends the measured unary Echo calls, SIGUSR2 again
reads (the window includes accepting h2load's connections). Per call = over the calls h2load completed (all of them, or
the run fails). *Heap bytes*: exact, not sampled: between two collections the V8 heap's used size grows by what was
allocated, so the sum of (used before GC *i* - used after GC *i-1*), plus the growth from the mark to the first GC and
from the last GC to the reading, with the sizes around each GC from \`v8.GCProfiler\`. Off-heap ArrayBuffer contents
(Buffer bytes) are not counted; each Buffer's object on the heap is. *GC pause*: the sum of the GCs' main-thread pauses;
concurrent marking and sweeping threads show only in the CPU time. *CPU*: \`process.cpuUsage()\` (all threads, user +
system). Heap bytes per call repeat to within 0.1% between runs of one revision (the probe's count, checked against
known allocations, is within 1% of them); GC pause and CPU repeat within a few percent and drift with the machine.
`;

/** The results file with `section` in place of the one under the same heading, or after the others. */
async function merged(section: string): Promise<string> {
  const existing = await readFile(RESULTS, "utf8").catch(() => "");
  const sections = existing.split(/^(?=## )/m).slice(1);
  const heading = section.slice(0, section.indexOf("\n"));
  const at = sections.findIndex((old) => old.slice(0, old.indexOf("\n")) === heading);
  if (at === -1) sections.push(section);
  else sections[at] = section;
  return [HEADER, ...sections.map((text) => `${text.trimEnd()}\n`)].join("\n");
}

function report(bundle: Bundle, rows: Figures[], load: { rps: number; p50: number; p99: number }): string {
  const short = bundle.commit.slice(0, 10);
  const date = new Date().toISOString().slice(0, 10);
  const commit = `\`${short}\`${bundle.dirty ? " + uncommitted changes" : ""}`;
  const f = (value: number, digits = 0) => value.toFixed(digits);
  const lines = [
    `## sidecar ${short}${bundle.dirty ? ` + uncommitted changes (bundle ${bundle.sha256.slice(0, 12)})` : ""}`,
    "",
    ...(options.label ? [`${options.label}.`, ""] : []),
    `Commit "${bundle.subject}"${bundle.dirty ? ", with the working tree's uncommitted changes to sidecar/src" : ""}; ` +
      `bundle sha256 \`${bundle.sha256.slice(0, 12)}\`. ${LOAD.calls} calls after ${LOAD.warmUp} of warm-up, ` +
      `${LOAD.connections} connections x ${LOAD.streams} streams (c=${LOAD.connections * LOAD.streams}), ` +
      `a gRPC unary \`${PATH}\` each: ${f(load.rps)} calls/s, p50 ${f(load.p50, 2)} ms, p99 ${f(load.p99, 2)} ms, none failed.`,
    "",
    "| date | Node | sidecar commit | sidecar | heap bytes / call | GC pause ms / 1k calls | GCs: scavenge / mark-compact | CPU µs / call |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (row) =>
        `| ${date} | ${process.version} | ${commit} | ${row.role} | ${f(row.heapBytesPerCall)} | ${f(row.gcMsPer1kCalls, 2)} | ` +
        `${row.scavenges} / ${row.markCompacts} | ${f(row.cpuUsPerCall)} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

async function main() {
  await requireTools(["h2load", "taskset"]);
  await pinToLoadCpu();
  const work = await mkdtemp(join(tmpdir(), "mesh-bench-alloc-"));
  const procs: Proc[] = [];
  try {
    const bundle = await buildBundle(work, options.rev);
    console.error(`measuring the sidecar of ${bundle.commit.slice(0, 10)}${bundle.dirty ? " + uncommitted" : ""}`);
    const { descriptors, body } = await writeEchoFiles(work);
    const app = await startEchoApp();
    procs.push(app.proc);
    const [inListen, inAdmin, outListen, outAdmin] = (await Promise.all(Array.from({ length: 4 }, addr))) as [
      string,
      string,
      string,
      string,
    ];
    const probed = async (role: string, config: string, listen: string): Promise<Probed> => {
      const file = join(work, `${role}.probe.json`);
      const proc = await startSidecar(work, `sidecar-${role}`, config, listen, {
        entry: bundle.entry,
        nodeArgs: ["--import", pathToFileURL(PROBE).href],
        env: { ALLOC_PROBE_FILE: file },
      });
      procs.push(proc);
      return { role, proc, file, seq: 0 };
    };
    const inbound = await probed("inbound", sidecarInbound(inListen, inAdmin, app.address), inListen);
    const outbound = await probed("outbound", sidecarOutbound(outListen, outAdmin, inListen, descriptors), outListen);
    const sidecars = [outbound, inbound];
    await checkPlaintext([outAdmin, inAdmin]);
    await checkEcho("sidecar x2", outListen);

    const h2loadArgs = (calls: number) => [
      "-n",
      String(calls),
      "-c",
      String(LOAD.connections),
      "-m",
      String(LOAD.streams),
    ];
    console.error(`warm-up: ${LOAD.warmUp} calls`);
    const warm = await h2load(outListen, body, h2loadArgs(LOAD.warmUp), join(work, "warm-up.log"));
    await signal(sidecars);
    console.error(`measuring: ${LOAD.calls} calls`);
    const load = await h2load(outListen, body, h2loadArgs(LOAD.calls), join(work, "measured.log"));
    const readings = await signal(sidecars);
    const errors = await grpcErrors(outAdmin);
    if (warm.failures || load.failures || load.requests !== LOAD.calls || errors !== "0") {
      throw new Error(
        `calls failed: ${warm.failures + load.failures} HTTP failures, ${load.requests} of ${LOAD.calls} succeeded, ` +
          `${errors} gRPC errors`,
      );
    }
    const rows = sidecars.map((probe, i) => figures(probe.role, readings[i] as Reading, load.requests));
    const section = report(bundle, rows, load);
    await publishReport("allocations", quick ? section : await merged(section), !quick);
  } finally {
    await stopAll(procs);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
