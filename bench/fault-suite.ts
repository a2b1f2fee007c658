// Faults against the whole local mesh under steady load from independent clients. Order, payment, inventory and
// the gateway run twice; the clients reach the gateways through a sidecar of their own, as any mesh client does.
// After each fault: every client call counted (all are idempotent), every order terminal, the saga invariants
// held, no payment doubled; after the suite, no process left. The reads' p99 during each fault is set against their
// p99 before it; for the hung- and slow-instance faults (reads with 1 s deadlines) it must stay within 3x.
// The faults run on a mesh with one nats-server (which "NATS stopped" stops and starts), except those of a JetStream
// cluster node, which run afterwards on a mesh of their own whose JetStream is a cluster of three (streams R3).
//
//   npm run bench:faults                      (about 11 minutes), writes bench/results/fault-suite.md
//   npm run bench:faults -- --only PostgreSQL only the faults whose name has that text; prints, writes nothing
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { SHOP_STREAMS } from "@mesh/kit";
import type { InstanceInfo, LocalMesh } from "@mesh/local";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { queryRows } from "../test/shop/invariants.ts";
import { type DrillMesh, REPLICAS, startDrillMesh } from "./drill-mesh.ts";
import { type MixedLoad, type MixedLoadResult, type ReadSample, startMixedLoad } from "./mixed-load.ts";
import { publishReport } from "./publish-report.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** Longer than the slowest drill below stalls a saga, so deadlines cancel nothing that would have completed. */
const SAGA_TIMEOUT_MS = 60_000;

/** The load runs this long before a fault: the reads' p99 "before" is theirs. */
const BASELINE_MS = 1500;
/** The hung- and slow-instance faults: reads with 1 s deadlines (issue 14's target), a longer baseline. */
const TAIL = { readTimeoutMs: 1000, baselineMs: 10_000, p99Within: 3 };
/** How long an instance stays frozen or slow. */
const HANG_MS = 20_000;
/** The JetStream cluster of the cluster faults, and how long its killed node stays down. */
const NATS_CLUSTER_NODES = 3;
const NATS_NODE_DOWN_MS = 10_000;

interface Fault {
  name: string;
  /** The reads' deadline during this fault; default the load's 5 s. */
  readTimeoutMs?: number;
  /** How long the load runs before the fault; default BASELINE_MS. */
  baselineMs?: number;
  /** The reads' p99 during the fault must stay within this multiple of their p99 before it (a target, reported). */
  p99Within?: number;
  /** Runs on the mesh whose JetStream is a cluster of NATS_CLUSTER_NODES nats-servers. */
  natsCluster?: boolean;
  /** Injects the fault and undoes it; returns what it observed. */
  run(mesh: LocalMesh, window: FaultWindow, drill: DrillMesh): Promise<string>;
}

/**
 * What "during the fault" is, for the reads' p99: every read that overlaps [begin, end]. A fault that does not mark
 * it is measured from its start to when run resolves.
 */
interface FaultWindow {
  readonly load: MixedLoad;
  begin(): void;
  end(): void;
}

const instance = (mesh: LocalMesh, name: string) => {
  const found = mesh.instances.find((each) => each.instance === name);
  if (!found) throw new Error(`no instance ${name}`);
  return found;
};

/** SIGKILL for an instance's app (0) or sidecar (1), then the same process started again 3 s later. */
async function killAndRestart(target: InstanceInfo, which: 0 | 1): Promise<string> {
  target.processes[which]?.child.kill("SIGKILL");
  await sleep(3000);
  await (which === 0 ? target.restartApp() : target.restartSidecar());
  return "";
}

type Clusters = Record<string, { breaker: string; endpoints: { address: string; ejected: boolean }[] }>;

/**
 * Polls the /clusters view of every sidecar of `service` every 200 ms until `until` resolves, and returns each one's
 * timeline of `stateOf` (a state and when it began, from the first poll).
 */
async function watchClusters(
  mesh: LocalMesh,
  service: string,
  stateOf: (clusters: Clusters) => string,
  until: Promise<unknown>,
) {
  const seen = new Map<string, string[]>();
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const started = Date.now();
  while (!done) {
    for (const caller of mesh.instances.filter((each) => each.service === service)) {
      const state = await fetch(`http://${caller.admin}/clusters`, { signal: AbortSignal.timeout(1000) }).then(
        async (response) => stateOf((await response.json()) as Clusters),
        () => "admin unreachable",
      );
      const states = seen.get(caller.instance) ?? [];
      if (states.at(-1)?.replace(/ [\d.]+s$/, "") !== state)
        states.push(`${state} ${((Date.now() - started) / 1000).toFixed(1)}s`);
      seen.set(caller.instance, states);
    }
    await sleep(200);
  }
  return [...seen].map(([name, states]) => `${name}: ${states.join(" → ")}`).join("; ");
}

/** Polls the breakers of every payment sidecar's `provider` upstream until `until` resolves. */
const watchBreakers = (mesh: LocalMesh, until: Promise<unknown>) =>
  watchClusters(mesh, "payment", (clusters) => clusters.provider?.breaker ?? "?", until);

/** How each gateway sidecar sees one inventory endpoint (listed, ejected, or gone from discovery) until `until`. */
const watchInventoryEndpoint = (mesh: LocalMesh, target: InstanceInfo, until: Promise<unknown>) =>
  watchClusters(
    mesh,
    "gateway",
    (clusters) => {
      const endpoint = clusters.inventory?.endpoints.find((each) => each.address === target.inbound);
      return endpoint ? (endpoint.ejected ? "ejected" : "listed") : "not discovered";
    },
    until,
  );

/**
 * Freezes an instance's app (0) or sidecar (1) with SIGSTOP for HANG_MS, then SIGCONT; the fault's window is the
 * freeze. Returns how the gateways' sidecars saw the frozen endpoint meanwhile.
 */
async function freeze(mesh: LocalMesh, target: InstanceInfo, which: 0 | 1, window: FaultWindow) {
  const frozen = target.processes[which]?.child;
  if (!frozen?.pid) throw new Error(`${target.instance} has no running ${which === 0 ? "app" : "sidecar"}`);
  const drill = (async () => {
    window.begin();
    frozen.kill("SIGSTOP");
    try {
      await sleep(HANG_MS);
    } finally {
      frozen.kill("SIGCONT");
      window.end();
    }
  })();
  return `${target.instance}'s endpoint as the gateways' sidecars saw it: ${await watchInventoryEndpoint(mesh, target, drill)}`;
}

/** The q-th percentile (0-100) of durations in ms, nearest rank; NaN for none. */
function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))] as number;
}

/**
 * An instance made slow while it stays healthy: restarted with INVENTORY_LATENCY_MS set to 20x the reads' median
 * before the fault (end to end, through four sidecars: at least 20x the instance's own answer time), kept so for
 * HANG_MS, then restarted as it was. The window is the slow stretch, not the restarts.
 */
async function slowDown(mesh: LocalMesh, target: InstanceInfo, window: FaultWindow) {
  const median = percentile(
    window.load.readSamples.filter((sample) => !sample.failed).map((sample) => sample.ms),
    50,
  );
  const latencyMs = Math.max(20, Math.ceil(20 * median));
  await target.restartApp({ INVENTORY_LATENCY_MS: String(latencyMs) });
  await mesh.waitHealthy(60_000);
  const drill = (async () => {
    window.begin();
    await sleep(HANG_MS);
    window.end();
  })();
  const seen = await watchInventoryEndpoint(mesh, target, drill);
  await target.restartApp();
  return `every answer of ${target.instance} delayed ${latencyMs} ms (20x the reads' median of ${median.toFixed(1)} ms); its endpoint as the gateways' sidecars saw it: ${seen}`;
}

/**
 * SIGKILLs the cluster node that leads the events stream (the hardest node to lose: every publish goes to it) and
 * restarts it after downMs; says which node took over and how long the election took.
 */
async function killStreamLeader(mesh: LocalMesh, downMs: number): Promise<string> {
  const stream = SHOP_STREAMS.events.name;
  const nc = await connect({ servers: mesh.natsUrl.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const leader = async () => (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader;
    const leaderName = await leader();
    const victim = mesh.natsNodes.find((node) => node.name === leaderName);
    if (!victim) throw new Error(`no node of the mesh's NATS cluster leads ${stream} (leader: ${leaderName})`);
    const killedAt = Date.now();
    await victim.kill();
    let successor = await leader();
    while (!successor || successor === victim.name) {
      await sleep(100);
      successor = await leader();
    }
    const electedMs = Date.now() - killedAt;
    await sleep(Math.max(0, downMs - electedMs));
    await victim.restart();
    return `${victim.name} led ${stream}; ${successor} was elected its leader ${(electedMs / 1000).toFixed(1)} s after the kill; ${victim.name} rejoined ${((Date.now() - killedAt) / 1000).toFixed(1)} s after it`;
  } finally {
    await nc.close();
  }
}

/** The card gateway's outage while confirmed orders are cancelled, and how many are at most. */
const GATEWAY_DOWN_MS = 20_000;
const CANCELLED_WHILE_DOWN = 20;

/** The saga state of some orders, from the order and payment databases. */
async function refundsWaiting(mesh: LocalMesh, orderIds: string[]) {
  const orders = await queryRows<{ status: string }>(
    mesh.databaseUrls.order,
    "select status from orders where order_id = any($1)",
    [orderIds],
  );
  const captured = await queryRows<{ count: string }>(
    mesh.databaseUrls.payment,
    "select count(*) from payment where order_id = any($1) and status = 'CAPTURED'",
    [orderIds],
  );
  const cancelling = orders.filter((order) => order.status === "CANCELLING").length;
  return `${cancelling} CANCELLING, ${captured[0]?.count ?? 0} payments still CAPTURED`;
}

/**
 * Freezes the card gateway (SIGSTOP: every call to it times out), cancels confirmed orders meanwhile, thaws it: each
 * refund waits, retried, and none is given up; the suite's settle then needs every order CANCELLED with its money
 * returned. Frozen, not restarted: the simulated gateway keeps its charges in memory only, and a restarted one would
 * rightly refuse to refund charges it no longer knows.
 */
async function cancelWhileGatewayDown(mesh: LocalMesh, drill: DrillMesh): Promise<string> {
  const confirmed = await queryRows<{ order_id: string }>(
    mesh.databaseUrls.order,
    "select order_id from orders where status = 'CONFIRMED' order by created_at desc limit $1",
    [CANCELLED_WHILE_DOWN],
  );
  const orderIds = confirmed.map((row) => row.order_id);
  const provider = instance(mesh, "provider").processes[0]?.child;
  provider?.kill("SIGSTOP");
  try {
    const cancelled = await Promise.allSettled(
      orderIds.map((orderId) =>
        drill.order.cancelOrder({ orderId, reason: "drill: cancelled while the gateway is down" }),
      ),
    );
    await sleep(GATEWAY_DOWN_MS);
    const whileDown = await refundsWaiting(mesh, orderIds);
    const refused = cancelled.filter((result) => result.status === "rejected").length;
    return `${orderIds.length} confirmed orders cancelled (${refused} cancel calls failed); after ${GATEWAY_DOWN_MS / 1000} s of outage: ${whileDown}; gateway thawed`;
  } finally {
    provider?.kill("SIGCONT");
  }
}

const FAULTS: Fault[] = [
  ...["inventory-1", "order-1", "payment-1", "gateway-1", "provider"].map((name) => ({
    name: `kill -9 ${name}, restart after 3 s`,
    run: (mesh: LocalMesh) => killAndRestart(instance(mesh, name), 0),
  })),
  {
    name: "kill -9 inventory-2's sidecar, restart after 3 s",
    run: (mesh) => killAndRestart(instance(mesh, "inventory-2"), 1),
  },
  {
    name: "kill -9 order-2's sidecar (its app's way out), restart after 3 s",
    run: (mesh) => killAndRestart(instance(mesh, "order-2"), 1),
  },
  {
    name: "NATS stopped for 10 s, restarted",
    async run(mesh) {
      await mesh.restartNats(10_000);
      return "";
    },
  },
  {
    name: `NATS node leading the events stream killed with SIGKILL (cluster of ${NATS_CLUSTER_NODES}), restarted after ${NATS_NODE_DOWN_MS / 1000} s`,
    natsCluster: true,
    run: (mesh) => killStreamLeader(mesh, NATS_NODE_DOWN_MS),
  },
  {
    name: "PostgreSQL (all three services' databases) stopped for 2 s, restarted",
    async run(mesh) {
      await mesh.restartPostgres(2000);
      return "";
    },
  },
  {
    name: "payment provider failing (90% UNAVAILABLE) and slow (+1 s) for 20 s",
    async run(mesh) {
      const provider = instance(mesh, "provider");
      const drill = (async () => {
        await provider.restartApp({ PROVIDER_FAILURE_RATE: "0.9", PROVIDER_LATENCY_MS: "1000" });
        await sleep(20_000);
        await provider.restartApp();
        await sleep(15_000);
      })();
      return `breaker to provider: ${await watchBreakers(mesh, drill)}`;
    },
  },
  {
    name: `card gateway down (frozen with SIGSTOP) for ${GATEWAY_DOWN_MS / 1000} s while confirmed orders (up to ${CANCELLED_WHILE_DOWN}) are cancelled`,
    // Long enough for the load to confirm orders to cancel.
    baselineMs: 15_000,
    run: (mesh, _window, drill) => cancelWhileGatewayDown(mesh, drill),
  },
  {
    name: "slow consumer: payment-1 frozen (SIGSTOP) for 40 s, longer than JetStream's ack wait (30 s)",
    async run(mesh) {
      const frozen = instance(mesh, "payment-1").processes[0]?.child;
      frozen?.kill("SIGSTOP");
      await sleep(40_000);
      frozen?.kill("SIGCONT");
      return "";
    },
  },
  {
    name: "inventory-1 frozen (SIGSTOP) for 20 s under reads with 1 s deadlines, then SIGCONT",
    ...TAIL,
    run: (mesh, window) => freeze(mesh, instance(mesh, "inventory-1"), 0, window),
  },
  {
    name: "inventory-2's sidecar frozen (SIGSTOP) for 20 s under reads with 1 s deadlines, then SIGCONT",
    ...TAIL,
    run: (mesh, window) => freeze(mesh, instance(mesh, "inventory-2"), 1, window),
  },
  {
    name: "inventory-1 answering 20x slower than normal for 20 s under reads with 1 s deadlines",
    ...TAIL,
    run: (mesh, window) => slowDown(mesh, instance(mesh, "inventory-1"), window),
  },
  {
    name: "order-2's clock an hour ahead for 20 s (restarted with a skewed clock, then restarted again)",
    async run(mesh) {
      const target = instance(mesh, "order-2");
      await target.restartApp({
        NODE_OPTIONS: `--import ${join(ROOT, "bench/clock-ahead.mjs")}`,
        CLOCK_SKEW_MS: "3600000",
      });
      await mesh.waitHealthy(60_000);
      await sleep(20_000);
      await target.restartApp();
      return "";
    },
  },
];

const cancelReasons = async (mesh: LocalMesh) =>
  new Map(
    (
      await queryRows<{ reason: string; count: string }>(
        mesh.databaseUrls.order,
        "select cancel_reason as reason, count(*) from orders where status = 'CANCELLED' group by 1",
      )
    ).map((row) => [row.reason, Number(row.count)]),
  );

/** Of the PlaceOrder calls that failed, how many orders exist anyway (each request id can exist at most once). */
async function appliedAnyway(mesh: LocalMesh, requestIds: string[]): Promise<number> {
  if (requestIds.length === 0) return 0;
  const rows = await queryRows<{ count: string }>(
    mesh.databaseUrls.order,
    "select count(*) from orders where request_id = any($1)",
    [requestIds],
  );
  return Number(rows[0]?.count ?? 0);
}

const count = (kind: { calls: number; failures: number; errors: string[] }) =>
  `${kind.calls} / ${kind.failures}${kind.errors.length ? ` (${kind.errors[0]})` : ""}`;

/** Reads in the load's first half second are left out of "before": connections are still being set up. */
const WARMUP_MS = 500;

/** The reads' p99 before the fault (those that ended before it began) and during it (those that overlap it). */
function readLatency(samples: ReadSample[], loadStarted: number, window: { begin: number; end: number }) {
  const before = samples.filter((read) => read.start >= loadStarted + WARMUP_MS && read.start + read.ms < window.begin);
  const during = samples.filter((read) => read.start <= window.end && read.start + read.ms >= window.begin);
  return {
    before: percentile(
      before.map((read) => read.ms),
      99,
    ),
    during: percentile(
      during.map((read) => read.ms),
      99,
    ),
  };
}

const ms = (value: number) =>
  Number.isNaN(value) ? "-" : value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;

function row(name: string, load: MixedLoadResult, latency: string, recovered: string, after: string) {
  const views = `${count(load.views)}${load.views.partial ? `, ${load.views.partial} partial` : ""}`;
  return `| ${name} | ${count(load.reads)} | ${latency} | ${views} | ${count(load.orders)} | ${recovered} | ${after} |`;
}

const { only } = parseArgs({ options: { only: { type: "string" } } }).values;
const chosen = FAULTS.filter((fault) => !only || fault.name.includes(only));
if (chosen.length === 0) throw new Error(`--only ${only}: no fault's name has that text`);
const rows: string[] = [];
const notes: string[] = [];
let failedCalls = 0;
let violations = 0;
let latencyMisses = 0;

/** Runs one fault under load on a drill mesh, and adds its row and notes to the report. */
async function runFault(drill: DrillMesh, fault: Fault) {
  const { mesh, gateway } = drill;
  process.stdout.write(`${fault.name} ...\n`);
  await drill.restock(500);
  const before = await cancelReasons(mesh);
  const load = startMixedLoad(gateway, "faults", { readTimeoutMs: fault.readTimeoutMs, keepReadSamples: true });
  const loadStarted = performance.now();
  await sleep(fault.baselineMs ?? BASELINE_MS);
  const started = Date.now();
  const marks: { begin?: number; end?: number } = {};
  const faultWindow: FaultWindow = {
    load,
    begin: () => {
      marks.begin = performance.now();
    },
    end: () => {
      marks.end = performance.now();
    },
  };
  const faultStarted = performance.now();
  const observed = await fault.run(mesh, faultWindow, drill);
  const window = { begin: marks.begin ?? faultStarted, end: marks.end ?? performance.now() };
  const recovered = await mesh.waitHealthy(60_000).then(
    () => `all healthy ${((Date.now() - started) / 1000).toFixed(1)} s after the fault`,
    (error: Error) => `NOT healthy: ${error.message}`,
  );
  await sleep(1500);
  const result = await load.stop();
  const { report, waitedMs } = await drill.settle();
  const after = await cancelReasons(mesh);
  const cancelled = [...after]
    .map(([reason, total]) => [reason, total - (before.get(reason) ?? 0)] as const)
    .filter(([, added]) => added > 0)
    .map(([reason, added]) => `${added} "${reason}"`);
  const applied = await appliedAnyway(mesh, result.orders.failedRequestIds);
  failedCalls += result.reads.failures + result.views.failures + result.orders.failures;
  violations += report.violations.length;
  const p99 = readLatency(result.reads.samples, loadStarted, window);
  const ratio = p99.during / p99.before;
  const met = fault.p99Within === undefined || ratio <= fault.p99Within;
  if (!met) latencyMisses++;
  const latency = `${ms(p99.before)} → ${ms(p99.during)} (${Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : "-"}${
    fault.p99Within === undefined ? "" : `; target ≤ ${fault.p99Within}x: ${met ? "met" : "NOT met"}`
  })`;
  const verdict = report.violations.length
    ? `VIOLATED: ${report.violations.slice(0, 3).join("; ")}`
    : `hold after ${(waitedMs / 1000).toFixed(1)} s; cancelled meanwhile: ${cancelled.join(", ") || "none"}`;
  rows.push(row(fault.name, result, latency, recovered, verdict));
  if (observed) notes.push(`- ${fault.name}: ${observed}.`);
  if (result.orders.failures)
    notes.push(
      `- ${fault.name}: of ${result.orders.failures} failed PlaceOrder calls, ${applied} created an order anyway (each once: request ids are unique).`,
    );
}

const leaked: number[] = [];
try {
  for (const natsCluster of [false, true]) {
    const faults = chosen.filter((fault) => Boolean(fault.natsCluster) === natsCluster);
    if (faults.length === 0) continue;
    const drill = await startDrillMesh({
      sagaTimeoutMs: SAGA_TIMEOUT_MS,
      natsCluster: natsCluster ? NATS_CLUSTER_NODES : undefined,
    });
    try {
      for (const fault of faults) await runFault(drill, fault);
    } finally {
      leaked.push(...(await drill.stop()));
    }
  }
} finally {
  const text = [
    "# Fault suite, measured",
    "",
    `Produced by \`npm run bench:faults\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, Node ${process.version}; the local mesh`,
    "(every service and sidecar a process of its own, consul-dev, nats-server, PostgreSQL) on one machine, loopback only;",
    `the JetStream cluster faults on a second such mesh whose JetStream is a cluster of ${NATS_CLUSTER_NODES} nats-servers (streams R${NATS_CLUSTER_NODES}).`,
    `Instances: ${Object.entries(REPLICAS)
      .map(([service, replicas]) => `${service} ×${replicas}`)
      .join(
        ", ",
      )}, provider ×1 (it stands for the external payment gateway). Saga deadline ${SAGA_TIMEOUT_MS / 1000} s.`,
    "Load: connect-node clients through a client sidecar that balances over both gateways (found in Consul), each call",
    "with a 5 s deadline: 3 ListProducts (NO_SIDE_EFFECTS), 1 GetOrderView (NO_SIDE_EFFECTS; a view missing a part",
    "counts as partial) and 1 PlaceOrder (IDEMPOTENT by request id) in flight at all times. All of them may be retried,",
    "so every failed call counts against the mesh. After each fault the suite waits until every order is terminal and",
    "the invariants hold (confirmed: one captured payment and committed stock; cancelled: nothing captured or held;",
    "stock conserved; at most one payment per order).",
    `The hung- and slow-instance faults (an app or a sidecar frozen with SIGSTOP, an app answering 20x slower, ${HANG_MS / 1000} s`,
    `each) give the reads ${TAIL.readTimeoutMs / 1000} s deadlines and run the load ${TAIL.baselineMs / 1000} s before the fault; their reads' p99 during the fault`,
    `(every read that overlaps it, failed ones included) must stay within ${TAIL.p99Within}x the p99 before it. For the other faults the`,
    `p99 is shown, not judged: "before" is the ${BASELINE_MS / 1000} s of load before the fault (its first ${WARMUP_MS / 1000} s left out), "during" from its start until it is undone.`,
    "",
    "| fault | reads ok / failed | reads p99 before → during | views ok / failed | orders ok / failed | recovery | invariants |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    ...(notes.length ? ["Observed:", "", ...notes, ""] : []),
    `Faults run: ${rows.length} of ${chosen.length}. Failed client calls: ${failedCalls}. Invariant violations: ${violations}. Reads' p99 beyond its target: ${latencyMisses} of ${chosen.filter((fault) => fault.p99Within !== undefined).length} faults.`,
    `Processes left after the mesh stopped: ${leaked.length === 0 ? "none" : leaked.join(", ")}.`,
    "",
  ].join("\n");
  await publishReport("fault-suite", text, !only);
  if (failedCalls || violations || latencyMisses || leaked.length || rows.length < chosen.length) process.exitCode = 1;
}
