// The echo app and the sidecars in front of it as processes of their own, and h2load driving gRPC unary Echo calls
// through them: what `bench:sidecar` (sidecar-comparison.ts) and `bench:alloc` (allocations.ts) share.
//
// The load generator runs on CPU 0 and every server on CPU 1 (taskset), so they do not steal from each other.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { findExecutable, freePort } from "@mesh/embedded";
import { descriptorSet } from "@mesh/kit";
import { EchoRequestSchema, EchoService, file_mesh_echo_v1_echo } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { SIDECAR_NODE_FLAGS } from "@mesh/sidecar";
import { statusName } from "../sidecar/src/grpc/status.ts";
import { waitForPort } from "./process-probes.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const PATH = "/mesh.echo.v1.EchoService/Echo";
export const SERVER_CPU = "1";
export const LOAD_CPU = "0";

export interface Proc {
  name: string;
  child: ChildProcess;
}

/** Exits with an install hint when one of `tools` is not on the PATH. */
export async function requireTools(tools: string[]) {
  const packages: Record<string, string> = { h2load: "nghttp2-client", nginx: "nginx-light", taskset: "util-linux" };
  const missing = [];
  for (const tool of tools) if (!(await findExecutable(tool))) missing.push(tool);
  if (missing.length) {
    const names = missing.map((tool) => packages[tool] ?? tool).join(" ");
    console.error(`missing ${missing.join(", ")}: install with: sudo apt-get install ${names}`);
    process.exit(1);
  }
}

/** Keeps this process (h2load's parent) on the load generator's CPU, off the servers' one. */
export async function pinToLoadCpu() {
  await promisify(execFile)("taskset", ["-a", "-pc", LOAD_CPU, String(process.pid)]);
}

/** A server process pinned to the servers' CPU, its stderr passed on. */
/** Every server process started here, so a run that fails half-way still stops them all (stopAll). */
const started = new Set<Proc>();

/**
 * A server process pinned to the servers' CPU. Its stdout is dropped (an unread pipe would fill and stall it), its
 * stderr passed on.
 */
export function pinned(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn("taskset", ["-c", SERVER_CPU, command, ...args], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
  });
  const proc = { name, child };
  started.add(proc);
  return proc;
}

export interface SidecarOptions {
  /** The sidecar's entry point: sidecar/bin/mesh-sidecar.js (which loads sidecar/dist) unless another bundle. */
  entry?: string;
  /** Node options before the entry point, such as `--import` of a preload module. */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Writes `config` to `<work>/<name>.yaml` and starts a sidecar with it; resolves once `listens` accepts. */
export async function startSidecar(
  work: string,
  name: string,
  config: string,
  listens: string,
  options: SidecarOptions = {},
) {
  const path = join(work, `${name}.yaml`);
  await writeFile(path, config);
  const entry = options.entry ?? join(ROOT, "sidecar/bin/mesh-sidecar.js");
  const proc = pinned(
    name,
    process.execPath,
    [...SIDECAR_NODE_FLAGS, ...(options.nodeArgs ?? []), entry, "--config", path],
    options.env ?? {},
  );
  await waitForPort(listens);
  return proc;
}

/** The caller's sidecar, plaintext: every Echo call to the one `endpoint`. */
export const sidecarOutbound = (listen: string, admin: string, endpoint: string, descriptors: string) =>
  `outbound: { listen: "${listen}" }\nadmin: { listen: "${admin}" }\ndescriptors: [${descriptors}]\n` +
  `upstreams:\n  echo:\n    services: [mesh.echo.v1.EchoService]\n    endpoints: ["${endpoint}"]\n`;
/** The app's sidecar, plaintext, in front of `app`. */
export const sidecarInbound = (listen: string, admin: string, app: string) =>
  `inbound: { listen: "${listen}", app: "${app}" }\nadmin: { listen: "${admin}" }\n`;

/** A free loopback `host:port`. */
export const addr = async () => `127.0.0.1:${await freePort()}`;

export interface EchoFiles {
  /** The echo contract as a FileDescriptorSet (`descriptors:` of an outbound sidecar). */
  descriptors: string;
  /** One gRPC-framed EchoRequest, h2load's request body. */
  body: string;
  bodyBytes: number;
}

/** Writes the echo contract and h2load's request body into `work`. */
export async function writeEchoFiles(work: string): Promise<EchoFiles> {
  const descriptors = join(work, "echo.binpb");
  await writeFile(descriptors, descriptorSet([file_mesh_echo_v1_echo]));
  const message = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "hello mesh" }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  const body = join(work, "request.bin");
  await writeFile(body, frame);
  return { descriptors, body, bodyBytes: frame.length };
}

/** The echo app (services/kit's echo server, through tsx) on a free port. */
export async function startEchoApp(): Promise<{ proc: Proc; address: string }> {
  const address = await addr();
  const proc = pinned("app", process.execPath, [
    "--import",
    "tsx",
    join(ROOT, "services/kit/src/testing/echo-main.ts"),
    address.split(":")[1] as string,
    "bench",
  ]);
  await waitForPort(address);
  return { proc, address };
}

/** Fails unless a real gRPC client gets the right answer through `entry`. */
export async function checkEcho(name: string, entry: string) {
  const client = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${entry}` }));
  const reply = await client.echo({ message: "check" });
  if (reply.message !== "check") throw new Error(`${name}: wrong answer`);
}

/** SIGTERM to each process, then waits for all to exit. */
/** Stops `procs`, and every other process started here that is still running (one a failed start left behind). */
export async function stopAll(procs: Proc[]) {
  const all = new Set([...procs, ...started]);
  started.clear();
  for (const proc of all) proc.child.kill("SIGTERM");
  await Promise.all(
    [...all].map((proc) =>
      proc.child.exitCode === null && proc.child.signalCode === null ? once(proc.child, "exit") : undefined,
    ),
  );
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  failures: number;
}

/** h2load (pinned to the load CPU) sending `body` as gRPC unary Echo calls to `entry`, with its `args`. */
export async function h2load(entry: string, body: string, args: string[], log: string): Promise<LoadResult> {
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

/** Completed calls by gRPC status name, from a sidecar's metrics. */
export async function grpcStatuses(admin: string): Promise<Map<string, number>> {
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  const byName = new Map<string, number>();
  for (const match of metrics.matchAll(/^mesh_requests_total\{[^}]*code="(\d+)"\} (\d+)$/gm)) {
    const name = statusName(Number(match[1]));
    byName.set(name, (byName.get(name) ?? 0) + Number(match[2]));
  }
  return byName;
}

/**
 * h2load sees HTTP statuses only; the sidecar's own metrics tell which gRPC status each call got. The non-OK statuses
 * since `before` (CANCELLED aside: h2load cancels its last calls), as a count with their names: `2 (UNAVAILABLE 2)`.
 */
export async function grpcErrors(admin: string, before = new Map<string, number>()): Promise<string> {
  const errors: [string, number][] = [];
  for (const [name, count] of await grpcStatuses(admin)) {
    const since = count - (before.get(name) ?? 0);
    if (name !== "OK" && name !== "CANCELLED" && since > 0) errors.push([name, since]);
  }
  const total = errors.reduce((sum, [, count]) => sum + count, 0);
  return total === 0 ? "0" : `${total} (${errors.map(([name, count]) => `${name} ${count}`).join(", ")})`;
}

/** Fails the run when a plaintext sidecar would in fact run with mesh TLS. */
export async function checkPlaintext(admins: string[]) {
  for (const admin of admins) {
    const certs = (await (await fetch(`http://${admin}/certs`)).json()) as { tls?: string };
    if (certs.tls !== "off")
      throw new Error(`the sidecar at ${admin} runs with mesh TLS (${certs.tls}): plaintext rows expected`);
  }
}
