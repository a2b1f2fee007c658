// Faults against the whole local mesh under steady load from independent clients: each app process (but the
// single gateway, the only way in) is killed with SIGKILL in turn and started again. Then every saga must be
// terminal, the invariants must hold, and no process may be left after the mesh stops.
//
//   npm run bench:faults   (about 2 minutes), writes bench/results/fault-suite.md
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { isAlive } from "@mesh/embedded";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { steadyLoad } from "@mesh/kit/testing";
import { startLocalMesh } from "@mesh/local";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { checkInvariants } from "../test/shop/invariants.ts";

const ROOT = resolve(import.meta.dirname, "..");
const dataDir = await mkdtemp(join(tmpdir(), "mesh-faults-"));
const mesh = await startLocalMesh({ dataDir, reset: true, gatewayPort: 0, logLevel: "error", write: () => {} });
const rows: string[] = [];
let verdict = "hold";
try {
  const inbound = mesh.instances.find((each) => each.service === "gateway")?.inbound;
  const gateway = createClient(GatewayService, createGrpcTransport({ baseUrl: `http://${inbound}` }));
  const healthy = async (service: string, count: number) => {
    for (let i = 0; i < 150; i++) {
      const entries = (await (
        await fetch(`${mesh.consulUrl}/v1/health/service/${service}?passing`)
      ).json()) as unknown[];
      if (entries.length >= count) return true;
      await sleep(200);
    }
    return false;
  };

  for (const victim of mesh.instances.filter((each) => each.service !== "gateway")) {
    // Reads are idempotent (NO_SIDE_EFFECTS); orders are IDEMPOTENT by request id: the mesh may retry both.
    const reads = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }), 4);
    const orders = steadyLoad(
      () =>
        gateway.placeOrder(
          {
            requestId: randomUUID(),
            customerId: "faults",
            lines: [{ productId: "sku-filter", quantity: 1 }],
            cardNumber: "4242424242424242",
            currency: "USD",
          },
          { timeoutMs: 5000 },
        ),
      1,
    );
    await sleep(1000);
    const started = Date.now();
    victim.processes[0]?.child.kill("SIGKILL");
    await sleep(3000);
    await victim.restartApp();
    const back = await healthy(victim.service, victim.service === "inventory" ? 2 : 1);
    const recoveredMs = Date.now() - started;
    await sleep(1000);
    const read = await reads.stop();
    const placed = await orders.stop();
    rows.push(
      `| kill -9 ${victim.instance}, restart | ${read.calls} / ${read.failures}${read.errors.length ? ` (${read.errors[0]})` : ""} | ${placed.calls} / ${placed.failures}${placed.errors.length ? ` (${placed.errors[0]})` : ""} | ${back ? `healthy again after ${(recoveredMs / 1000).toFixed(1)} s` : "NOT healthy again"} |`,
    );
  }

  const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));
  let report = await checkInvariants(mesh.databaseUrls, initialStock);
  for (let i = 0; i < 150 && report.violations.length; i++) {
    await sleep(200);
    report = await checkInvariants(mesh.databaseUrls, initialStock);
  }
  verdict = report.violations.length
    ? `VIOLATED: ${report.violations.slice(0, 5).join("; ")}`
    : `hold (${report.orders.confirmed} confirmed, ${report.orders.cancelled} cancelled, none pending)`;
} finally {
  const pids = mesh.pids();
  await mesh.stop();
  const leaked = pids.filter(isAlive);
  await rm(dataDir, { recursive: true, force: true });
  const text = [
    "# Fault suite, measured",
    "",
    `Produced by \`npm run bench:faults\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, Node ${process.version}; the local mesh`,
    "(every service and sidecar a process of its own, consul-dev, nats-server, PostgreSQL) on this machine.",
    "Load through the gateway's sidecar: 4 ListProducts (NO_SIDE_EFFECTS) and 1 PlaceOrder (IDEMPOTENT by request id) in flight.",
    "",
    "| fault | reads ok / failed | orders ok / failed | recovery |",
    "|---|---|---|---|",
    ...rows,
    "",
    "Order runs as one instance in the local mesh: while it is down, new orders cannot be placed (the sidecar answers",
    "UNAVAILABLE at once, `stream refused before processing`); no placed order is lost. Orders cancelled here are",
    "payments given up while the payment provider was down, or sagas past their deadline: each fully compensated.",
    "",
    `Saga invariants after the suite: ${verdict}.`,
    `Processes left after the mesh stopped: ${leaked.length === 0 ? "none" : leaked.join(", ")}.`,
    "",
  ].join("\n");
  process.stdout.write(`${text}\n`);
  await mkdir(join(ROOT, "bench/results"), { recursive: true });
  await writeFile(join(ROOT, "bench/results/fault-suite.md"), text);
}
