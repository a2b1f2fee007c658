import { execFile } from "node:child_process";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type RunningConsulDev, startConsulDev } from "@mesh/consul-dev";
import {
  freePort,
  type NatsClusterNode,
  type RunningNatsCluster,
  type RunningNatsServer,
  type RunningPostgres,
  startNatsCluster,
  startNatsServer,
  startPostgres,
} from "@mesh/embedded";
import { sidecarProcessArgs } from "@mesh/sidecar";
import { paymentCardKey } from "./card-key.ts";
import { type ManagedProcess, startProcess } from "./child-process.ts";
import { applyIntentions, DASHBOARD_IDENTITY, meshIntentions } from "./intentions.ts";
import { serviceBundle } from "./service-bundle.ts";
import { type ServicePlan, SHOP, servesOf } from "./topology.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

export interface LocalMeshOptions {
  /** Everything the mesh keeps: databases, JetStream, configs. A second start reuses it. */
  dataDir: string;
  /** Wipe dataDir first. */
  reset?: boolean;
  /** Use this Consul agent (CONSUL_HTTP_ADDR) instead of starting consul-dev. */
  consulAddress?: string;
  /** Use this NATS (NATS_URL) instead of starting a private nats-server. */
  natsUrl?: string;
  /**
   * Run JetStream as a cluster of this many private nats-servers instead of one (3: streams get three replicas and
   * any one node may fail); the services get every node's URL.
   */
  natsCluster?: number;
  /** The gateway's HTTP port; 0 picks a free one. */
  gatewayPort: number;
  /** The dashboard's port (its page, trace API and OTLP receiver); 0 or absent picks a free one. */
  dashboardPort?: number;
  /** The services' log level (LOG_LEVEL). */
  logLevel: string;
  /** Where prefixed process output goes. */
  write: (line: string) => void;
  /** A saga still PENDING this long is cancelled. */
  sagaTimeoutMs?: number;
  /** Share (0-1) of the payment gateway's calls that fail with UNAVAILABLE: a drill for retries and breakers. */
  providerFailureRate?: number;
  /** Whether every process traces to the dashboard (default true); benchmarks of throughput turn it off. */
  tracing?: boolean;
  /** PostgreSQL server settings (see startPostgres), for example a library a benchmark reads. */
  postgresSettings?: Readonly<Record<string, string>>;
  /** Instances per service, where they differ from the topology's (for failover drills). */
  replicas?: Partial<Record<string, number>>;
}

export interface InstanceInfo {
  service: string;
  instance: string;
  app: string;
  /** Where the app serves its Prometheus metrics (METRICS_LISTEN; GET /metrics). */
  metrics: string;
  inbound: string;
  outbound?: string;
  admin: string;
  /** The app, then its sidecar. */
  processes: ManagedProcess[];
  /** Stops the app (if still running) and starts it again on the same port; `env` adds to its environment. */
  restartApp(env?: NodeJS.ProcessEnv): Promise<void>;
  /** Stops the sidecar (if still running) and starts it again with the same configuration. */
  restartSidecar(): Promise<void>;
}

export interface LocalMesh {
  readonly consulUrl: string;
  /** NATS_URL as the services have it: one server's URL, or every cluster node's, comma-separated. */
  readonly natsUrl: string;
  /** The nodes of the mesh's own NATS cluster (natsCluster), each to kill and restart in drills; else none. */
  readonly natsNodes: readonly NatsClusterNode[];
  readonly postgres: string | undefined;
  /** Each service's database URL. */
  readonly databaseUrls: { order: string; inventory: string; payment: string };
  /** Process ids of everything the mesh started (services, sidecars, nats-server, PostgreSQL). */
  pids(): number[];
  readonly gatewayHttp: string;
  /** The mesh dashboard: its page, its Jaeger-compatible trace API, and the OTLP/HTTP endpoint every process exports to. */
  readonly dashboardUrl: string;
  readonly instances: InstanceInfo[];
  /** The descriptor set every sidecar reads (for more sidecars, such as a client's). */
  readonly descriptorImage: string;
  /** Resolves once every instance passes its health check in Consul; rejects after timeoutMs naming what is not. */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** Stops the mesh's own nats-server, waits pauseMs, and starts it again on the same port and data (one server only). */
  restartNats(pauseMs: number): Promise<void>;
  /** Stops the mesh's own PostgreSQL (fast shutdown), waits pauseMs, and starts it again on the same port and data. */
  restartPostgres(pauseMs: number): Promise<void>;
  /** Stops every process the mesh started, services first, and waits until all are gone. */
  stop(): Promise<void>;
}

/** Free ports, each handed out once: the kernel may offer a just-released port again to the next caller. */
function portAllocator() {
  const given = new Set<number>();
  return async () => {
    for (;;) {
      const port = await freePort();
      if (given.has(port)) continue;
      given.add(port);
      return `127.0.0.1:${port}`;
    }
  };
}
const node = process.execPath;

/** Each attempt of a read may take this long before it is cancelled and retried on another instance. */
export const READ_PER_TRY_TIMEOUT_MS = 300;
/**
 * Each attempt of a write (every shop write is IDEMPOTENT, by its request id or idempotency key) may take this long
 * before it is retried elsewhere: long enough for a slow write, short enough that a hung instance costs one second.
 * The sidecar never cuts short the last attempt, so a slow database still gets the whole deadline.
 */
export const WRITE_PER_TRY_TIMEOUT_MS = 1000;

/** The shop's reads (`idempotency_level = NO_SIDE_EFFECTS`) per service; a test holds this to the contracts. */
const SHOP_READS: Partial<Record<string, string[]>> = {
  order: ["GetOrder", "ListOrders", "ListStuckOrders"],
  inventory: ["ListProducts", "GetStock", "GetReservation"],
  payment: ["GetPayment", "ListPayments"],
};

/**
 * How sidecars call one of the shop's services, beside its `services` (the compose and Kubernetes sidecar configs
 * say the same; a test compares). Reads are hedged on another instance once an attempt has taken longer than 95%
 * of the upstream's recent ones, and an attempt still unanswered after 300 ms is cancelled and retried elsewhere,
 * so a hung instance or sidecar costs a read one short wait instead of its whole deadline. Writes are never hedged;
 * an attempt of one is retried elsewhere after 1 s (they are all IDEMPOTENT), and its last attempt is never cut.
 */
export function shopUpstreamPolicy(callee: string) {
  const reads = SHOP_READS[callee] ?? [];
  if (reads.length === 0) return {};
  return {
    retry: { perTryTimeoutMs: WRITE_PER_TRY_TIMEOUT_MS },
    hedging: { delayPercentile: 95, maxAttempts: 2 },
    methods: Object.fromEntries(
      reads.map((method) => [method, { retry: { perTryTimeoutMs: READ_PER_TRY_TIMEOUT_MS } }]),
    ),
  };
}

async function buildDescriptors(dataDir: string): Promise<string> {
  const image = join(dataDir, "image.binpb");
  await promisify(execFile)(join(ROOT, "node_modules/.bin/buf"), ["build", "-o", image], { cwd: ROOT });
  return image;
}

/** Resolves once the dashboard answers, or rejects when its process exits first. */
async function waitForDashboard(url: string, dashboard: ManagedProcess) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (dashboard.child.exitCode !== null) throw new Error("the dashboard exited; its output is above");
    const answered = await fetch(`${url}/api/services`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return;
    await sleep(100);
  }
  throw new Error(`the dashboard did not answer at ${url} within 30 s`);
}

/** Every process traces every call and event (ratio 1.0) to the dashboard's OTLP/HTTP receiver. */
function tracingEnv(dashboardUrl: string): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: dashboardUrl,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "1.0",
    // Spans reach the page within a second rather than the default five.
    OTEL_BSP_SCHEDULE_DELAY: "500",
  };
}

async function waitHealthy(
  consulUrl: string,
  expected: Map<string, number>,
  processes: ManagedProcess[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let missing: string[] = [];
  while (Date.now() < deadline) {
    const exited = processes.find((each) => each.child.exitCode !== null || each.child.signalCode !== null);
    if (exited)
      throw new Error(
        `${exited.name} exited (${exited.child.signalCode ?? `code ${exited.child.exitCode}`}); its output is above`,
      );
    missing = [];
    for (const [service, count] of expected) {
      const entries = (await (await fetch(`${consulUrl}/v1/health/service/${service}?passing`)).json()) as unknown[];
      if (entries.length < count) missing.push(`${service} (${entries.length}/${count} passing)`);
    }
    if (missing.length === 0) return;
    await sleep(250);
  }
  throw new Error(`not healthy in Consul after ${timeoutMs / 1000} s: ${missing.join(", ")}`);
}

/** Starts the whole mesh on this machine; see LocalMeshOptions. Partial starts are stopped again on failure. */
export async function startLocalMesh(options: LocalMeshOptions): Promise<LocalMesh> {
  // Every app runs from its build: checked before anything starts, so a missing or stale one stops nothing midway.
  const bundles = new Map(
    await Promise.all(SHOP.map(async (plan) => [plan.service, await serviceBundle(ROOT, plan.service)] as const)),
  );
  if (options.reset) await rm(options.dataDir, { recursive: true, force: true });
  await mkdir(join(options.dataDir, "sidecars"), { recursive: true });
  // PostgreSQL runs as its own user when started as root; it must be able to enter the data directory.
  await chmod(options.dataDir, 0o755);
  const processes: ManagedProcess[] = [];
  const address = portAllocator();
  let consul: RunningConsulDev | undefined;
  let nats: RunningNatsServer | undefined;
  let natsCluster: RunningNatsCluster | undefined;
  let postgres: RunningPostgres | undefined;
  const stopAll = async () => {
    // Sidecars first would refuse calls the apps still make; stop in reverse start order (callers before callees).
    for (const each of [...processes].reverse()) await each.stop();
    await nats?.stop();
    await natsCluster?.stop();
    await postgres?.stop();
    await consul?.stop();
  };
  try {
    const image = await buildDescriptors(options.dataDir);
    const cardKey = await paymentCardKey(options.dataDir);
    consul = options.consulAddress ? undefined : await startConsulDev({ port: 0, nodeName: "local-mesh" });
    const consulUrl = options.consulAddress
      ? options.consulAddress.replace(/^(?!https?:\/\/)/, "http://")
      : (consul as RunningConsulDev).url;
    // Deny by default, the shop's call graph allowed: sidecars enforce these from their first call.
    await applyIntentions(consulUrl, meshIntentions());
    if (!options.natsUrl && options.natsCluster) {
      natsCluster = await startNatsCluster({
        dataDir: join(options.dataDir, "nats-cluster"),
        nodes: options.natsCluster,
      });
    } else if (!options.natsUrl) {
      nats = await startNatsServer({ dataDir: join(options.dataDir, "nats"), monitor: false });
    }
    const natsUrl = options.natsUrl ?? natsCluster?.url ?? (nats as RunningNatsServer).url;
    const startDatabases = (port?: number) =>
      startPostgres({
        dataDir: join(options.dataDir, "postgres"),
        databases: ["order", "inventory", "payment"],
        port,
        settings: options.postgresSettings,
      });
    postgres = await startDatabases();
    const pg = postgres;
    const gatewayHttp = options.gatewayPort ? `127.0.0.1:${options.gatewayPort}` : await address();
    const dashboardPort = options.dashboardPort || Number((await address()).split(":")[1]);
    const dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
    const dashboardArgs = ["--port", String(dashboardPort), "--consul", consulUrl, "--nats", natsUrl];
    const dashboard = startProcess(
      "dashboard",
      node,
      [join(ROOT, "deploy/dashboard/bin/mesh-dashboard.js"), ...dashboardArgs, "--identity", DASHBOARD_IDENTITY],
      { LOG_LEVEL: options.logLevel },
      options.write,
    );
    processes.push(dashboard);
    await waitForDashboard(dashboardUrl, dashboard);
    const tracing = options.tracing === false ? {} : tracingEnv(dashboardUrl);

    const instances: InstanceInfo[] = [];
    // The first gateway serves HTTP on the announced port, any further one on a port of its own.
    const httpPort = async (n: number) => (n === 1 ? gatewayHttp : await address()).split(":")[1];
    const env = (
      plan: ServicePlan,
      app: string,
      metrics: string,
      http: string | undefined,
      outbound?: string,
    ): NodeJS.ProcessEnv => ({
      LOG_LEVEL: options.logLevel,
      ...tracing,
      NATS_URL: natsUrl,
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: app.split(":")[1],
      METRICS_LISTEN: metrics,
      ...(plan.database ? { DATABASE_URL: pg.url(plan.database) } : {}),
      ...(outbound ? { SIDECAR_OUTBOUND: outbound } : {}),
      ...(plan.service === "payment" ? { PAYMENT_CARD_KEY: cardKey } : {}),
      ...(plan.service === "order" && options.sagaTimeoutMs ? { SAGA_TIMEOUT_MS: String(options.sagaTimeoutMs) } : {}),
      ...(http ? { GATEWAY_HTTP_PORT: http } : {}),
      ...(plan.service === "provider" && options.providerFailureRate
        ? { PROVIDER_FAILURE_RATE: String(options.providerFailureRate) }
        : {}),
    });

    const instanceCount = (plan: ServicePlan) => options.replicas?.[plan.service] ?? plan.instances;
    for (const plan of SHOP) {
      const count = instanceCount(plan);
      for (let n = 1; n <= count; n++) {
        const name = count > 1 ? `${plan.service}-${n}` : plan.service;
        const [app, metrics, inbound, admin] = [await address(), await address(), await address(), await address()];
        const outbound = plan.calls.length ? await address() : undefined;
        const http = plan.service === "gateway" ? await httpPort(n) : undefined;
        const sidecarConfig = {
          service: plan.service,
          inbound: { listen: inbound, app, services: plan.serves },
          ...(outbound ? { outbound: { listen: outbound } } : {}),
          admin: { listen: admin },
          descriptors: [image],
          consul: { address: consulUrl, checkIntervalMs: 2000, checkTimeoutMs: 1000 },
          upstreams: Object.fromEntries(
            plan.calls.map((callee) => [callee, { services: servesOf(callee), ...shopUpstreamPolicy(callee) }]),
          ),
        };
        const configPath = join(options.dataDir, "sidecars", `${name}.json`);
        await writeFile(configPath, JSON.stringify(sidecarConfig, null, 2));
        const main = bundles.get(plan.service) as string;
        const startApp = (extra: NodeJS.ProcessEnv = {}) =>
          startProcess(name, node, [main], { ...env(plan, app, metrics, http, outbound), ...extra }, options.write);
        const startSidecar = () =>
          startProcess(
            `${name} sidecar`,
            node,
            sidecarProcessArgs(configPath),
            { LOG_LEVEL: options.logLevel, ...tracing },
            options.write,
          );
        const appProcess = startApp();
        const sidecarProcess = startSidecar();
        processes.push(appProcess, sidecarProcess);
        // Replaces one of the instance's processes in place, keeping the mesh's stop order.
        const replace = async (index: 0 | 1, start: () => ManagedProcess) => {
          const old = instance.processes[index] as ManagedProcess;
          await old.stop(1000);
          const fresh = start();
          processes[processes.indexOf(old)] = fresh;
          instance.processes[index] = fresh;
        };
        const instance: InstanceInfo = {
          service: plan.service,
          instance: name,
          app,
          metrics,
          inbound,
          outbound,
          admin,
          processes: [appProcess, sidecarProcess],
          restartApp: (extra) => replace(0, () => startApp(extra)),
          restartSidecar: () => replace(1, startSidecar),
        };
        instances.push(instance);
      }
    }
    const expected = new Map(SHOP.map((plan) => [plan.service, instanceCount(plan)]));
    await waitHealthy(consulUrl, expected, processes, 90_000);
    return {
      consulUrl,
      natsUrl,
      natsNodes: natsCluster?.nodes ?? [],
      postgres: `${pg.host}:${pg.port}`,
      databaseUrls: { order: pg.url("order"), inventory: pg.url("inventory"), payment: pg.url("payment") },
      pids: () =>
        [
          ...processes.map((each) => each.child.pid ?? 0),
          nats?.pid ?? 0,
          ...(natsCluster?.nodes.map((node) => node.pid) ?? []),
          postgres?.pid ?? 0,
        ].filter((pid) => pid > 0),
      gatewayHttp: `http://${gatewayHttp}`,
      dashboardUrl,
      instances,
      descriptorImage: image,
      waitHealthy: (timeoutMs) => waitHealthy(consulUrl, expected, processes, timeoutMs),
      async restartNats(pauseMs) {
        if (natsCluster) throw new Error("NATS is a cluster here: restart one of its nodes (natsNodes)");
        if (!nats) throw new Error("NATS is not the mesh's own (NATS_URL was given): restart it where it runs");
        await nats.stop();
        await sleep(pauseMs);
        nats = await startNatsServer({ dataDir: nats.dataDir, port: nats.port, monitor: false });
      },
      async restartPostgres(pauseMs) {
        await postgres?.stop();
        await sleep(pauseMs);
        postgres = await startDatabases(pg.port);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
