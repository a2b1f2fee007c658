import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findExecutable, isExecutable } from "./executables.ts";
import { freePort } from "./free-port.ts";
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

/** A nats-server process whose ports file has appeared: it listens. */
interface SpawnedNatsServer {
  child: ChildProcess;
  pid: number;
  ports: PortsFile;
}

/** Runs nats-server with args, writing its ports file into dataDir; resolves once it listens. */
async function spawnNatsServer(args: string[], dataDir: string, startTimeoutMs = 10_000): Promise<SpawnedNatsServer> {
  const binary = await natsServerBinary();
  // A process group of its own: a Ctrl-C meant for the program that started it must not stop it under that
  // program's feet; the program stops it (stop()) when it is done with it.
  const child = spawn(binary, [...args, "--ports_file_dir", dataDir], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
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
    const ports = await readPortsFile(join(dataDir, `nats-server_${pid}.ports`), child, () => output, startTimeoutMs);
    return { child, pid, ports };
  } catch (error) {
    await terminate(child);
    throw error;
  }
}

/** Starts a private nats-server with JetStream on 127.0.0.1, never on the standard port unless asked. */
export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const jetstreamDir = join(options.dataDir, "jetstream");
  await mkdir(jetstreamDir, { recursive: true });
  const args = ["-a", "127.0.0.1", "-p", String(options.port ?? -1), "-js", "-sd", jetstreamDir];
  if (options.monitor) args.push("-m", "-1");
  const { child, pid, ports } = await spawnNatsServer(args, options.dataDir, options.startTimeoutMs);
  const url = ports.nats[0] as string;
  return {
    url,
    port: Number(new URL(url).port),
    monitorUrl: ports.monitoring?.[0],
    pid,
    dataDir: options.dataDir,
    stop: () => terminate(child),
  };
}

export interface NatsClusterOptions {
  /** Each node keeps its JetStream data and config in a folder of its own here (node-1, node-2, ...). */
  dataDir: string;
  /** How many nodes (3 for R3 streams). */
  nodes: number;
  /** The cluster's name (default "mesh"). */
  clusterName?: string;
  /** How long to wait for the nodes to listen and elect a JetStream meta leader (default 30 s). */
  startTimeoutMs?: number;
}

export interface NatsClusterNode {
  /** The node's server_name, for example mesh-2. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** The node's HTTP monitoring endpoint (/jsz, /routez, /healthz). */
  readonly monitorUrl: string;
  /** The current process's id; a restart changes it. */
  readonly pid: number;
  readonly dataDir: string;
  /** Whether the node's process is running (false after kill() until restart()). */
  readonly running: boolean;
  /** SIGKILLs the node (no shutdown, no goodbye to its routes) and waits until its process is gone. */
  kill(): Promise<void>;
  /** Stops the node if it runs, then starts it again on the same ports and data; resolves once it rejoined. */
  restart(): Promise<void>;
  /** Stops the node (SIGTERM) and waits until its process is gone. */
  stop(): Promise<void>;
}

export interface RunningNatsCluster {
  readonly name: string;
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, comma-separated: the form NATS_URL takes for a cluster. */
  readonly url: string;
  /** The node whose server_name is given (the names JetStream reports, e.g. as a stream's cluster leader). */
  node(serverName: string): NatsClusterNode;
  /** Resolves with the JetStream meta leader's name once the running nodes agree on one; rejects after timeoutMs. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Stops every node and waits until all processes are gone. */
  stop(): Promise<void>;
}

interface NodePorts {
  client: number;
  cluster: number;
  monitor: number;
}

/** One node's config: JetStream needs a server_name per node and the cluster's routes to form its meta group. */
function clusterNodeConfig(name: string, clusterName: string, ports: NodePorts, all: NodePorts[], dataDir: string) {
  const routes = all.map((each) => `    "nats-route://127.0.0.1:${each.cluster}"`).join("\n");
  return `server_name: "${name}"
listen: "127.0.0.1:${ports.client}"
http: "127.0.0.1:${ports.monitor}"
jetstream {
  store_dir: ${JSON.stringify(join(dataDir, "jetstream"))}
}
cluster {
  name: "${clusterName}"
  listen: "127.0.0.1:${ports.cluster}"
  routes: [
${routes}
  ]
}
`;
}

interface JszMeta {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** The meta leader a node knows of, or undefined while it knows none (or does not answer). */
async function metaLeaderSeenBy(monitorUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) });
    const jsz = (await response.json()) as JszMeta;
    return jsz.meta_cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}

class ClusterNode implements NatsClusterNode {
  private process: SpawnedNatsServer | undefined;

  constructor(
    readonly name: string,
    private readonly ports: NodePorts,
    readonly dataDir: string,
    private readonly configFile: string,
  ) {}

  get url() {
    return `nats://127.0.0.1:${this.ports.client}`;
  }
  get port() {
    return this.ports.client;
  }
  get monitorUrl() {
    return `http://127.0.0.1:${this.ports.monitor}`;
  }
  get pid() {
    return this.process?.pid ?? 0;
  }
  get running() {
    const child = this.process?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async start(timeoutMs: number) {
    this.process = await spawnNatsServer(["-c", this.configFile], this.dataDir, timeoutMs);
  }

  async kill() {
    const child = this.process?.child;
    if (!child || !this.running) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  async restart() {
    await this.stop();
    await this.start(30_000);
    await this.waitForMetaLeader(30_000);
  }

  async stop() {
    if (this.process) await terminate(this.process.child);
  }

  /** A restarted node has rejoined once it knows the cluster's meta leader again. */
  private async waitForMetaLeader(timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (!(await metaLeaderSeenBy(this.monitorUrl))) {
      if (Date.now() > deadline)
        throw new Error(`NATS node ${this.name} did not rejoin its cluster in ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

/**
 * Starts nodes nats-servers with JetStream as one cluster on 127.0.0.1 (client, route and monitoring ports picked
 * free once and kept across restarts); resolves once they have elected a JetStream meta leader.
 */
export async function startNatsCluster(options: NatsClusterOptions): Promise<RunningNatsCluster> {
  const clusterName = options.clusterName ?? "mesh";
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const ports: NodePorts[] = [];
  for (let n = 0; n < options.nodes; n++)
    ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });

  const nodes = await Promise.all(
    ports.map(async (own, index) => {
      const name = `${clusterName}-${index + 1}`;
      const dataDir = join(options.dataDir, `node-${index + 1}`);
      await mkdir(join(dataDir, "jetstream"), { recursive: true });
      const configFile = join(dataDir, "nats-server.conf");
      await writeFile(configFile, clusterNodeConfig(name, clusterName, own, ports, dataDir));
      return new ClusterNode(name, own, dataDir, configFile);
    }),
  );
  const cluster: RunningNatsCluster = {
    name: clusterName,
    nodes,
    url: nodes.map((each) => each.url).join(","),
    node(serverName) {
      const found = nodes.find((each) => each.name === serverName);
      if (!found) throw new Error(`no node ${serverName} in NATS cluster ${clusterName}`);
      return found;
    },
    async waitForMetaLeader(waitMs = timeoutMs) {
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline) {
        const running = nodes.filter((each) => each.running);
        const seen = await Promise.all(running.map((each) => metaLeaderSeenBy(each.monitorUrl)));
        const leader = seen[0];
        if (leader && seen.every((each) => each === leader)) return leader;
        await sleep(100);
      }
      throw new Error(`NATS cluster ${clusterName} elected no JetStream meta leader within ${waitMs} ms`);
    },
    async stop() {
      await Promise.all(nodes.map((each) => each.stop()));
    },
  };
  try {
    await Promise.all(nodes.map((each) => each.start(timeoutMs)));
    await cluster.waitForMetaLeader();
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
