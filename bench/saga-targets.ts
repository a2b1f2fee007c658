// The two shops bench:saga measures: every service and sidecar in one process (the figure each optimisation is
// judged by), or the local mesh with every service and sidecar a process of its own and two instances of each, as
// users deploy it. Both count statements (pg_stat_statements) and name every process whose CPU the report splits.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { checkInvariants, type InvariantReport } from "../test/shop/invariants.ts";
import { startShopMesh } from "../test/shop/shop-mesh.ts";
import { REPLICAS, startDrillMesh } from "./drill-mesh.ts";
import { LOAD_PRODUCT } from "./mixed-load.ts";
import { type AccountedProcess, postgresProcesses, STATEMENT_COUNTING } from "./saga-cost.ts";

export interface SagaTarget {
  /** How the shop runs, for the report. */
  description: string;
  natsUrl: string;
  databaseUrls: { order: string; inventory: string; payment: string };
  /** Places one order of one unit as a user would; resolves its order id. */
  placeOrder(): Promise<string>;
  /** Every process whose CPU counts, named for the report (PostgreSQL's by database). */
  processes(): Promise<AccountedProcess[]>;
  /** Waits until every order is terminal; the invariants then. */
  settle(): Promise<InvariantReport>;
  stop(): Promise<void>;
}

/** Stock enough that every saga runs its whole course to CONFIRMED. */
const STOCK = 1_000_000;

async function commandOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
}

export async function inProcessShop(sagaTimeoutMs: number): Promise<SagaTarget> {
  const shop = await startShopMesh({ sagaTimeoutMs, postgresSettings: STATEMENT_COUNTING });
  const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));
  await shop.inventory.adjustStock({
    adjustmentId: randomUUID(),
    productId: LOAD_PRODUCT,
    delta: BigInt(STOCK),
    reason: "bench",
  });
  initialStock.set(LOAD_PRODUCT, (initialStock.get(LOAD_PRODUCT) ?? 0) + STOCK);
  const invariants = () => checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger());
  return {
    description: "every service and sidecar in this one process; nats-server and PostgreSQL beside it",
    natsUrl: shop.natsUrl,
    databaseUrls: shop.databaseUrls,
    async placeOrder() {
      // As the gateway does: the card goes to payment for a token, the order carries only the token.
      const { order } = await shop.order.createOrder({
        requestId: randomUUID(),
        customerId: "bench",
        lines: [{ productId: LOAD_PRODUCT, quantity: 1 }],
        ...(await shop.tokenize("4242424242424242")),
        currency: "USD",
      });
      return order?.orderId ?? "";
    },
    async processes() {
      return [
        { name: "services, sidecars and load (one process)", pid: process.pid },
        { name: "nats-server", pid: shop.nats.pid },
        ...(await postgresProcesses(shop.postgres.pid, shop.postgres.adminUrl)),
      ];
    },
    async settle() {
      let report = await invariants();
      for (let i = 0; i < 100 && report.violations.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        report = await invariants();
      }
      return report;
    },
    stop: () => shop.stop(),
  };
}

export async function meshShop(sagaTimeoutMs: number): Promise<SagaTarget> {
  // Untraced, as the one-process shop is: tracing every call is a cost of its own (bench/REPORT.md, Tracing).
  const drill = await startDrillMesh({ sagaTimeoutMs, postgresSettings: STATEMENT_COUNTING, tracing: false });
  await drill.restock(STOCK);
  const { mesh } = drill;
  const replicas = Object.entries(REPLICAS)
    .map(([service, count]) => `${service} ×${count}`)
    .join(", ");
  return {
    description: `the local mesh: every service and sidecar a process of its own (${replicas}, provider ×1), orders placed through the gateways by a client sidecar`,
    natsUrl: mesh.natsUrl,
    databaseUrls: mesh.databaseUrls,
    async placeOrder() {
      const { order } = await drill.gateway.placeOrder(
        {
          requestId: randomUUID(),
          customerId: "bench",
          lines: [{ productId: LOAD_PRODUCT, quantity: 1 }],
          cardNumber: "4242424242424242",
          currency: "USD",
        },
        { timeoutMs: 10_000 },
      );
      return order?.orderId ?? "";
    },
    async processes() {
      const named = new Map<number, string>();
      for (const instance of mesh.instances) {
        const [app, sidecar] = instance.processes;
        if (app?.child.pid) named.set(app.child.pid, instance.service);
        if (sidecar?.child.pid) named.set(sidecar.child.pid, `${instance.service} sidecar`);
      }
      if (drill.clientSidecar.child.pid) named.set(drill.clientSidecar.child.pid, "load's client sidecar");
      const rest = drill.pids().filter((pid) => !named.has(pid));
      const commands = await Promise.all(rest.map(commandOf));
      const postmaster = rest.find((_, index) => commands[index] === "postgres");
      const others = rest
        .map((pid, index) => ({ pid, name: commands[index] === "node" ? "dashboard" : (commands[index] ?? "?") }))
        .filter((each) => each.pid !== postmaster);
      const postgres = postmaster ? await postgresProcesses(postmaster, mesh.databaseUrls.order) : [];
      return [
        ...[...named].map(([pid, name]) => ({ pid, name })),
        ...others,
        { name: "load (this process)", pid: process.pid },
        ...postgres,
      ];
    },
    async settle() {
      return (await drill.settle()).report;
    },
    async stop() {
      await drill.stop();
    },
  };
}
