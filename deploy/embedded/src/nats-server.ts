import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findExecutable, isExecutable } from "./executables.ts";
import { terminate } from "./process-exit.ts";

export const NATS_INSTALL_HINT =
  "nats-server not found: install it with `sudo apt-get install nats-server` (Debian, Ubuntu) or see https://docs.nats.io/running-a-nats-service/introduction/installation";

export interface NatsServerOptions {
  /** Where JetStream keeps its data and the server writes its ports file; kept across restarts. */
  dataDir: string;
  /** 0 (default) lets the server pick a free port; pass the previous port to restart in place. */
  port?: number;
  /** Also serve the HTTP monitoring endpoints (/jsz, /varz) on a free port. */
  monitor?: boolean;
  startTimeoutMs?: number;
}

export interface RunningNatsServer {
  readonly url: string;
  readonly port: number;
  readonly monitorUrl: string | undefined;
  readonly pid: number;
  readonly dataDir: string;
  /** Stops the server and waits until its process is gone. */
  stop(): Promise<void>;
}

interface PortsFile {
  nats: string[];
  monitoring?: string[];
}

async function readPortsFile(path: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `nats-server exited with code ${child.exitCode}: ${output().trim().split("\n").slice(-3).join(" | ")}`,
      );
    }
    try {
      return JSON.parse(await readFile(path, "utf8")) as PortsFile;
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`nats-server did not report its ports within ${timeoutMs} ms`);
}

/** NATS_SERVER_BIN when set, else nats-server from PATH; a one-line error with the install command when missing. */
async function natsServerBinary(): Promise<string> {
  const configured = process.env.NATS_SERVER_BIN;
  if (configured) {
    if (await isExecutable(configured)) return configured;
    throw new Error(`${NATS_INSTALL_HINT} (NATS_SERVER_BIN=${configured} is not an executable)`);
  }
  const found = await findExecutable("nats-server");
  if (!found) throw new Error(NATS_INSTALL_HINT);
  return found;
}

/** Starts a private nats-server with JetStream on 127.0.0.1, never on the standard port unless asked. */
export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const binary = await natsServerBinary();
  const jetstreamDir = join(options.dataDir, "jetstream");
  await mkdir(jetstreamDir, { recursive: true });
  const args = ["-a", "127.0.0.1", "-p", String(options.port ?? -1), "-js", "-sd", jetstreamDir];
  args.push("--ports_file_dir", options.dataDir);
  if (options.monitor) args.push("-m", "-1");

  // A process group of its own: a Ctrl-C meant for the program that started it must not stop it under that
  // program's feet; the program stops it (stop()) when it is done with it.
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4096);
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once("spawn", () => resolve(undefined));
    child.once("error", resolve);
  });
  if (spawned) throw new Error(`cannot run ${binary}: ${spawned.message}`);

  const pid = child.pid as number;
  try {
    const ports = await readPortsFile(
      join(options.dataDir, `nats-server_${pid}.ports`),
      child,
      () => output,
      options.startTimeoutMs ?? 10_000,
    );
    const url = ports.nats[0] as string;
    return {
      url,
      port: Number(new URL(url).port),
      monitorUrl: ports.monitoring?.[0],
      pid,
      dataDir: options.dataDir,
      stop: () => terminate(child),
    };
  } catch (error) {
    await terminate(child);
    throw error;
  }
}
