// Faults against the whole local mesh under steady load from independent clients. Order, payment, inventory and
// the gateway run twice; the clients reach the gateways through a sidecar of their own, as any mesh client does.
// After each fault: every client call counted (all are idempotent), every order terminal, the saga invariants
// held, no payment doubled; after the suite, no process left.
//
//   npm run bench:faults                      (about 8 minutes), writes bench/results/fault-suite.md
//   npm run bench:faults -- --only PostgreSQL only the faults whose name has that text; prints, writes nothing
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { InstanceInfo, LocalMesh } from "@mesh/local";
import { queryRows } from "../test/shop/invariants.ts";
import { REPLICAS, startDrillMesh } from "./drill-mesh.ts";
import { type MixedLoadResult, startMixedLoad } from "./mixed-load.ts";
import { publishReport } from "./publish-report.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** Longer than the slowest drill below stalls a saga, so deadlines cancel nothing that would have completed. */
const SAGA_TIMEOUT_MS = 60_000;

interface Fault {
  name: string;
  /** Injects the fault and undoes it; returns what it observed. */
  run(mesh: LocalMesh): Promise<string>;
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

/** Polls the breakers of every payment sidecar's `provider` upstream until `until` resolves. */
async function watchBreakers(mesh: LocalMesh, until: Promise<unknown>) {
  const seen = new Map<string, string[]>();
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const started = Date.now();
  while (!done) {
    for (const payment of mesh.instances.filter((each) => each.service === "payment")) {
      const clusters = (await (await fetch(`http://${payment.admin}/clusters`)).json()) as Record<
        string,
        { breaker: string }
      >;
      const states = seen.get(payment.instance) ?? [];
      const state = clusters.provider?.breaker ?? "?";
      if (states.at(-1)?.split(" ")[0] !== state)
        states.push(`${state} ${((Date.now() - started) / 1000).toFixed(1)}s`);
      seen.set(payment.instance, states);
    }
    await sleep(200);
  }
  return [...seen].map(([name, states]) => `${name}: ${states.join(" → ")}`).join("; ");
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

function row(name: string, load: MixedLoadResult, recovered: string, after: string) {
  const views = `${count(load.views)}${load.views.partial ? `, ${load.views.partial} partial` : ""}`;
  return `| ${name} | ${count(load.reads)} | ${views} | ${count(load.orders)} | ${recovered} | ${after} |`;
}

const { only } = parseArgs({ options: { only: { type: "string" } } }).values;
const chosen = FAULTS.filter((fault) => !only || fault.name.includes(only));
if (chosen.length === 0) throw new Error(`--only ${only}: no fault's name has that text`);
const drill = await startDrillMesh({ sagaTimeoutMs: SAGA_TIMEOUT_MS });
const { mesh, gateway } = drill;
const rows: string[] = [];
const notes: string[] = [];
let failedCalls = 0;
let violations = 0;
try {
  for (const fault of chosen) {
    process.stdout.write(`${fault.name} ...\n`);
    await drill.restock(500);
    const before = await cancelReasons(mesh);
    const load = startMixedLoad(gateway, "faults");
    await sleep(1500);
    const started = Date.now();
    const observed = await fault.run(mesh);
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
    const verdict = report.violations.length
      ? `VIOLATED: ${report.violations.slice(0, 3).join("; ")}`
      : `hold after ${(waitedMs / 1000).toFixed(1)} s; cancelled meanwhile: ${cancelled.join(", ") || "none"}`;
    rows.push(row(fault.name, result, recovered, verdict));
    if (observed) notes.push(`- ${fault.name}: ${observed}.`);
    if (result.orders.failures)
      notes.push(
        `- ${fault.name}: of ${result.orders.failures} failed PlaceOrder calls, ${applied} created an order anyway (each once: request ids are unique).`,
      );
  }
} finally {
  const leaked = await drill.stop();
  const text = [
    "# Fault suite, measured",
    "",
    `Produced by \`npm run bench:faults\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, Node ${process.version}; the local mesh`,
    "(every service and sidecar a process of its own, consul-dev, nats-server, PostgreSQL) on one machine, loopback only.",
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
    "",
    "| fault | reads ok / failed | views ok / failed | orders ok / failed | recovery | invariants |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    ...(notes.length ? ["Observed:", "", ...notes, ""] : []),
    `Faults run: ${rows.length} of ${chosen.length}. Failed client calls: ${failedCalls}. Invariant violations: ${violations}.`,
    `Processes left after the mesh stopped: ${leaked.length === 0 ? "none" : leaked.join(", ")}.`,
    "",
  ].join("\n");
  await publishReport("fault-suite", text, !only);
  if (failedCalls || violations || leaked.length || rows.length < chosen.length) process.exitCode = 1;
}
