// Side-by-side cost of a mesh hop, in one run on one machine: the echo app called directly, through one and two
// sidecars, and through one and two nginx grpc_pass proxies. h2load (nghttp2) drives gRPC unary calls.
//
//   npm run bench:sidecar            full run (about 3 minutes), writes bench/results/sidecar-comparison.md
//   npm run bench:sidecar -- --quick a short run, for checking that the script works
//
// The load generator is pinned to CPU 0 and every server to CPU 1 (taskset), so they do not steal from each other.
// Figures drift between runs and machines: compare the ratios within one run, not absolute numbers across runs.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { findExecutable, freePort } from "@mesh/embedded";
import { EchoRequestSchema, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { rssMiB, waitForPort } from "./process-probes.ts";
import { publishReport } from "./publish-report.ts";

const quick = process.argv.includes("--quick");
const ROOT = resolve(import.meta.dirname, "..");
const PATH = "/mesh.echo.v1.EchoService/Echo";
const THROUGHPUT = { clients: 8, streams: 16, seconds: quick ? 3 : 10, warmUp: quick ? 1 : 2 };
const FIXED_RATE = { clients: 10, rpsPerClient: 100, seconds: quick ? 3 : 10 };
const SERVER_CPU = "1";
const LOAD_CPU = "0";

interface Proc {
  name: string;
  child: ChildProcess;
}

interface Topology {
  name: string;
  /** Where h2load sends requests. */
  entry: string;
  /** The proxy processes whose CPU and memory are measured. */
  proxies: Proc[];
  /** For sidecar paths: the entry sidecar's admin address, whose metrics count the gRPC statuses callers got. */
  admin?: string;
}

async function requireTools() {
  const missing = [];
  for (const tool of ["h2load", "nginx", "taskset"]) if (!(await findExecutable(tool))) missing.push(tool);
  if (missing.length) {
    console.error(
      `missing ${missing.join(", ")}: install with: sudo apt-get install nghttp2-client nginx-light util-linux`,
    );
    process.exit(1);
  }
}

function pinned(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn("taskset", ["-c", SERVER_CPU, command, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
  });
  return { name, child };
}

async function startSidecar(work: string, name: string, config: string, listens: string) {
  const path = join(work, `${name}.yaml`);
  await writeFile(path, config);
  const proc = pinned(name, process.execPath, [join(ROOT, "sidecar/bin/mesh-sidecar.js"), "--config", path]);
  await waitForPort(listens);
  return proc;
}

async function startNginx(work: string, name: string, listen: string, upstream: string) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `${kind}_temp_path ${dir}/${kind};`)
    .join(" ");
  const conf = `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; ${temp}
  upstream app { server ${upstream}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen ${listen} http2; keepalive_requests 1000000;
    location / { grpc_pass grpc://app; }
  }
}
`;
  await writeFile(join(dir, "nginx.conf"), conf);
  const proc = pinned(name, "nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
  await waitForPort(listen);
  return proc;
}

const sidecarOutbound = (listen: string, admin: string, endpoint: string) =>
  `outbound: { listen: "${listen}" }\nadmin: { listen: "${admin}" }\ndescriptors: [${join(tmpDescriptors, "echo.binpb")}]\n` +
  `upstreams:\n  echo:\n    services: [mesh.echo.v1.EchoService]\n    endpoints: ["${endpoint}"]\n`;
const sidecarInbound = (listen: string, admin: string, app: string) =>
  `inbound: { listen: "${listen}", app: "${app}" }\nadmin: { listen: "${admin}" }\n`;

let tmpDescriptors = "";
const addr = async () => `127.0.0.1:${await freePort()}`;

function cpuTicks(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, "utf8").then((stat) => {
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  });
}

interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  failures: number;
}

async function h2load(entry: string, body: string, args: string[], log: string): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    "taskset",
    [
      "-c",
      LOAD_CPU,
      "h2load",
      ...args,
      "--log-file",
      log,
      "-d",
      body,
      "-H",
      "content-type: application/grpc",
      "-H",
      "te: trailers",
      `http://${entry}${PATH}`,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const finished = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    stdout,
  );
  const latencies = (await readFile(log, "utf8"))
    .trim()
    .split("\n")
    .map((line) => Number(line.split("\t")[2]) / 1000)
    .sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    requests: Number(counts?.[2] ?? 0),
    seconds: Number(finished?.[1] ?? 0),
    rps: Number(finished?.[2] ?? 0),
    p50: at(0.5),
    p99: at(0.99),
    failures: Number(counts?.[3] ?? 0) + Number(counts?.[4] ?? 0),
  };
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  fixedP50: number;
  fixedP99: number;
  cpuUsPerRequest: number | undefined;
  rssAtFixedRate: number | undefined;
  rssAfterThroughput: number | undefined;
  failures: number;
  /** Calls answered with a gRPC status other than OK, and CANCELLED (h2load cancels its last calls at the end). */
  grpcErrors: number | undefined;
}

/** h2load sees HTTP statuses only; the sidecar's own metrics tell which gRPC status each call got. */
async function grpcErrors(admin: string): Promise<number> {
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  let errors = 0;
  for (const match of metrics.matchAll(/^mesh_requests_total\{[^}]*code="(\d+)"\} (\d+)$/gm)) {
    if (match[1] !== "0" && match[1] !== "1") errors += Number(match[2]);
  }
  return errors;
}

async function measure(topology: Topology, work: string, body: string): Promise<Row> {
  const entry = topology.entry;
  // Correctness first: a real gRPC client must get the right answer through this path.
  const client = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${entry}` }));
  const reply = await client.echo({ message: "check" });
  if (reply.message !== "check") throw new Error(`${topology.name}: wrong answer`);

  const fixed = await h2load(
    entry,
    body,
    [
      "-c",
      String(FIXED_RATE.clients),
      "-m",
      "1",
      "--rps",
      String(FIXED_RATE.rpsPerClient),
      "-D",
      String(FIXED_RATE.seconds),
    ],
    join(work, `${topology.name}-fixed.log`),
  );
  const rssAtFixedRate = await Promise.all(topology.proxies.map((proc) => rssMiB(proc.child.pid as number)));
  const before = await Promise.all(topology.proxies.map((proc) => cpuTicks(proc.child.pid as number)));
  const throughput = await h2load(
    entry,
    body,
    [
      "-c",
      String(THROUGHPUT.clients),
      "-m",
      String(THROUGHPUT.streams),
      "-D",
      String(THROUGHPUT.seconds),
      "--warm-up-time",
      String(THROUGHPUT.warmUp),
    ],
    join(work, `${topology.name}-throughput.log`),
  );
  const after = await Promise.all(topology.proxies.map((proc) => cpuTicks(proc.child.pid as number)));
  const rssAfterThroughput = await Promise.all(topology.proxies.map((proc) => rssMiB(proc.child.pid as number)));
  const ticks = after.reduce((sum, value, index) => sum + value - (before[index] ?? 0), 0);
  // Ticks are 1/100 s; the measured window includes the warm-up, whose requests h2load does not count.
  const window = THROUGHPUT.seconds + THROUGHPUT.warmUp;
  const cpuUs = topology.proxies.length
    ? (ticks * 10_000) / (throughput.rps * window) / topology.proxies.length
    : undefined;
  return {
    name: topology.name,
    rps: throughput.rps,
    p50: throughput.p50,
    p99: throughput.p99,
    fixedP50: fixed.p50,
    fixedP99: fixed.p99,
    cpuUsPerRequest: cpuUs,
    rssAtFixedRate: rssAtFixedRate.length ? Math.max(...rssAtFixedRate) : undefined,
    rssAfterThroughput: rssAfterThroughput.length ? Math.max(...rssAfterThroughput) : undefined,
    failures: throughput.failures + fixed.failures,
    grpcErrors: topology.admin ? await grpcErrors(topology.admin) : undefined,
  };
}

const f = (value: number | undefined, digits = 2) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);

function table(rows: Row[]): string {
  const direct = rows.find((row) => row.name === "direct") as Row;
  const nginx1 = rows.find((row) => row.name === "nginx x1");
  const nginx2 = rows.find((row) => row.name === "nginx x2");
  const peer = (row: Row) => (row.name.endsWith("x2") ? nginx2 : nginx1);
  const lines = [
    "| path | req/s (c=128) | p50 ms | p99 ms | p50 ms @1000 rps | p99 ms @1000 rps | added p50 / p99 ms @1000 rps | proxy CPU µs/req (each) | vs nginx CPU | proxy RSS MiB @1000 rps / after c=128 | HTTP failures | gRPC errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const nginx = peer(row);
    const cpuRatio =
      row.cpuUsPerRequest && nginx?.cpuUsPerRequest && !row.name.startsWith("nginx")
        ? `${f(row.cpuUsPerRequest / nginx.cpuUsPerRequest)}x`
        : "-";
    lines.push(
      `| ${row.name} | ${f(row.rps, 0)} (${f(row.rps / direct.rps)}x) | ${f(row.p50)} | ${f(row.p99)} | ${f(row.fixedP50)} | ${f(row.fixedP99)} | ` +
        `${row.name === "direct" ? "-" : `+${f(row.fixedP50 - direct.fixedP50)} / +${f(row.fixedP99 - direct.fixedP99)}`} | ` +
        `${f(row.cpuUsPerRequest, 0)} | ${cpuRatio} | ${f(row.rssAtFixedRate, 0)} / ${f(row.rssAfterThroughput, 0)} | ${row.failures} | ${row.grpcErrors ?? "-"} |`,
    );
  }
  return lines.join("\n");
}

async function main() {
  await requireTools();
  const work = await mkdtemp(join(tmpdir(), "mesh-bench-"));
  tmpDescriptors = work;
  const { echoDescriptorSet } = await import("../sidecar/test/harness.ts");
  await writeFile(join(work, "echo.binpb"), echoDescriptorSet());
  const body = join(work, "request.bin");
  const message = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "hello mesh" }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  await writeFile(body, frame);

  const procs: Proc[] = [];
  try {
    const appAddress = await addr();
    const app = pinned("app", process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "services/kit/src/testing/echo-main.ts"),
      appAddress.split(":")[1] as string,
      "bench",
    ]);
    procs.push(app);
    await waitForPort(appAddress);

    const [sideOut1, sideAdmin1, sideOut2, sideAdmin2, sideIn2, sideAdmin3] = await Promise.all(
      Array.from({ length: 6 }, addr),
    );
    const one = await startSidecar(
      work,
      "sidecar-one",
      sidecarOutbound(sideOut1 as string, sideAdmin1 as string, appAddress),
      sideOut1 as string,
    );
    const inbound = await startSidecar(
      work,
      "sidecar-inbound",
      sidecarInbound(sideIn2 as string, sideAdmin3 as string, appAddress),
      sideIn2 as string,
    );
    const outbound = await startSidecar(
      work,
      "sidecar-outbound",
      sidecarOutbound(sideOut2 as string, sideAdmin2 as string, sideIn2 as string),
      sideOut2 as string,
    );
    const [nginx1Listen, nginx2aListen, nginx2bListen] = await Promise.all([addr(), addr(), addr()]);
    const nginx1 = await startNginx(work, "nginx-one", nginx1Listen, appAddress);
    const nginx2b = await startNginx(work, "nginx-two-b", nginx2bListen, appAddress);
    const nginx2a = await startNginx(work, "nginx-two-a", nginx2aListen, nginx2bListen);
    procs.push(one, inbound, outbound, nginx1, nginx2a, nginx2b);

    const topologies: Topology[] = [
      { name: "direct", entry: appAddress, proxies: [] },
      { name: "sidecar x1", entry: sideOut1 as string, proxies: [one], admin: sideAdmin1 as string },
      { name: "sidecar x2", entry: sideOut2 as string, proxies: [outbound, inbound], admin: sideAdmin2 as string },
      { name: "nginx x1", entry: nginx1Listen, proxies: [nginx1] },
      { name: "nginx x2", entry: nginx2aListen, proxies: [nginx2a, nginx2b] },
    ];
    const rows: Row[] = [];
    for (const topology of topologies) {
      console.error(`measuring ${topology.name}...`);
      rows.push(await measure(topology, work, body));
    }
    const report = [
      "# Sidecar hop cost, measured side by side",
      "",
      `Produced by \`npm run bench:sidecar${quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ` +
        `${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, nginx 1.22 (\`grpc_pass\`, keepalive upstream), h2load.`,
      "",
      `Load: gRPC unary \`${PATH}\` with a ${frame.length}-byte request. Throughput: ${THROUGHPUT.clients} connections x ${THROUGHPUT.streams} streams ` +
        `for ${THROUGHPUT.seconds} s after ${THROUGHPUT.warmUp} s warm-up. Fixed rate: ${FIXED_RATE.clients} connections x ${FIXED_RATE.rpsPerClient} req/s = ` +
        `${FIXED_RATE.clients * FIXED_RATE.rpsPerClient} req/s for ${FIXED_RATE.seconds} s. h2load on CPU ${LOAD_CPU}; app and proxies share CPU ${SERVER_CPU}.`,
      "Sidecars run with every policy on at its defaults (deadline, bulkhead, circuit breaker, retries with budget, outlier detection, metrics).",
      "CPU per request is per proxy process over the throughput run. RSS is the largest proxy's, after the 1000 req/s run and after the throughput run.",
      "gRPC errors: non-OK statuses the entry sidecar answered (its metrics; CANCELLED excluded, h2load cancels its last calls). h2load sees only HTTP statuses.",
      "",
      table(rows),
      "",
    ].join("\n");
    await publishReport("sidecar-comparison", report, !quick);
  } finally {
    for (const proc of procs) proc.child.kill("SIGTERM");
    await Promise.all(procs.map((proc) => (proc.child.exitCode === null ? once(proc.child, "exit") : undefined)));
    await rm(work, { recursive: true, force: true });
  }
}

await main();
