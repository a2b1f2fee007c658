import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

// Debian's grpcio (the C core) is a gRPC implementation we did not write; its reflection check parses the
// descriptors it gets with Google's own protobuf runtime.
const PYTHON = "/usr/bin/python3";
const repoRoot = resolve(import.meta.dirname, "../..");

/** What an opt-in check of grpcio_client.py asks the test mid-call, e.g. `{ ask: "appCancelled", method: "Echo" }`. */
export interface GrpcioQuestion {
  ask: string;
  [detail: string]: unknown;
}

export interface GrpcioCheckOptions {
  /** The checks to run, by name; by default every check not marked opt-in. */
  checks?: readonly string[];
  /** Answers a check's question about the app; the check waits for it. Without it every question is answered null. */
  answer?: (question: GrpcioQuestion) => unknown;
}

/** Runs grpcio checks of grpcio_client.py against `host:port` and returns their results by name. */
export async function runGrpcioChecks(
  address: string,
  options: GrpcioCheckOptions = {},
): Promise<Record<string, unknown>> {
  const workDir = await mkdtemp(join(tmpdir(), "mesh-grpcio-"));
  try {
    const args = [
      join(import.meta.dirname, "grpcio_client.py"),
      address,
      join(repoRoot, "proto"),
      join(repoRoot, "proto/vendor"),
      workDir,
    ];
    if (options.checks) args.push(options.checks.join(","));
    const child = spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"], timeout: 30_000 });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
    let last = "";
    // Every line but the last is a question; the last is the results.
    try {
      for await (const line of createInterface({ input: child.stdout })) {
        if (!line.startsWith('{"ask"')) {
          last = line;
          continue;
        }
        const reply = await (options.answer?.(JSON.parse(line) as GrpcioQuestion) ?? null);
        child.stdin.write(`${JSON.stringify(reply ?? null)}\n`);
      }
    } catch (error) {
      child.kill();
      throw error;
    }
    const [code, signal] = await exited;
    if (code !== 0) throw new Error(`grpcio_client.py exited with ${code ?? signal}: ${stderr}`);
    return JSON.parse(last);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

export interface MtlsCredentials {
  rootsPem: string;
  certPem: string;
  keyPem: string;
  /** A DNS name in the server's certificate, which grpcio checks. */
  serverName: string;
}

/** One Echo call to `host:port` over mutual TLS with grpcio's own TLS stack; resolves its status and reply. */
export async function grpcioMtlsEcho(
  address: string,
  credentials: MtlsCredentials,
): Promise<{ code: string; details: string; reply: string }> {
  const workDir = await mkdtemp(join(tmpdir(), "mesh-grpcio-"));
  try {
    const files = { roots: credentials.rootsPem, cert: credentials.certPem, key: credentials.keyPem };
    for (const [name, pem] of Object.entries(files))
      await writeFile(join(workDir, `${name}.pem`), pem, { mode: 0o600 });
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [
        join(import.meta.dirname, "grpcio_mtls_call.py"),
        address,
        ...Object.keys(files).map((name) => join(workDir, `${name}.pem`)),
        credentials.serverName,
      ],
      { timeout: 30_000 },
    );
    return JSON.parse(stdout);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
