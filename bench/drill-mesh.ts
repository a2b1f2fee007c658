// The local mesh as the whole-mesh drills (fault suite, soak) run it: order, payment, inventory and the gateway
// twice, and a client sidecar of the load's own that balances over both gateways, found in Consul, as any mesh
// client's would. Ctrl-C or SIGTERM stops everything before the drill exits.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { freePort, isAlive } from "@mesh/embedded";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { applyIntentions, type LocalMesh, type ManagedProcess, startLocalMesh, startProcess } from "@mesh/local";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import { sidecarProcessArgs } from "@mesh/sidecar";
import { checkInvariants, type InvariantReport } from "../test/shop/invariants.ts";
import { LOAD_PRODUCT } from "./mixed-load.ts";
import { waitForPort } from "./process-probes.ts";

export const REPLICAS = { order: 2, payment: 2, inventory: 2, gateway: 2 };

export interface DrillMesh {
  mesh: LocalMesh;
  /** The gateway API, through the client sidecar. */
  gateway: Client<typeof GatewayService>;
  /** The order API, through the client sidecar (drills cancel orders with it). */
  order: Client<typeof OrderService>;
  clientSidecar: ManagedProcess;
  /** Each product's stock as seeded plus every restock: what the invariants compare against. */
  initialStock: Map<string, number>;
  /** Adds units of the product the load orders (through the mesh, like any stock adjustment). */
  restock(units: number): Promise<void>;
  /** Waits until every order is terminal and the invariants hold (120 s at most); the last report and the wait. */
  settle(): Promise<{ report: InvariantReport; waitedMs: number }>;
  /** Every process started, the client sidecar included. */
  pids(): number[];
  /** Stops everything; resolves the process ids still alive afterwards (none, when all went well). */
  stop(): Promise<number[]>;
}

/** The load's own mesh identity: it calls the gateway, restocks inventory and cancels orders, as the intentions allow. */
const LOAD_CLIENT = "load-client";

async function startClientSidecar(mesh: LocalMesh, dataDir: string) {
  const [outbound, admin] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  await applyIntentions(
    mesh.consulUrl,
    ["gateway", "inventory", "order"].map((destination) => ({
      source: LOAD_CLIENT,
      destination,
      action: "allow" as const,
      description: "the drill's load",
    })),
  );
  const config = {
    service: LOAD_CLIENT,
    outbound: { listen: outbound },
    admin: { listen: admin },
    descriptors: [mesh.descriptorImage],
    consul: { address: mesh.consulUrl, register: false },
    upstreams: {
      gateway: { services: ["shop.gateway.v1.GatewayService"] },
      inventory: { services: ["shop.inventory.v1.InventoryService"] },
      order: { services: ["shop.order.v1.OrderService"] },
    },
  };
  const path = join(dataDir, "client-sidecar.json");
  await writeFile(path, JSON.stringify(config));
  const sidecar = startProcess(
    "client sidecar",
    process.execPath,
    sidecarProcessArgs(path),
    { LOG_LEVEL: "error" },
    (line) => process.stderr.write(`${line}\n`),
  );
  await waitForPort(outbound);
  await discovered(admin, "gateway", REPLICAS.gateway);
  return { outbound, sidecar };
}

/** Waits until a sidecar's discovery knows `count` endpoints of an upstream (its /clusters view), 10 s at most. */
async function discovered(admin: string, upstream: string, count: number) {
  for (let i = 0; i < 100; i++) {
    const clusters = (await (await fetch(`http://${admin}/clusters`)).json()) as Record<
      string,
      { endpoints: unknown[] }
    >;
    if ((clusters[upstream]?.endpoints.length ?? 0) >= count) return;
    await sleep(100);
  }
  throw new Error(`the client sidecar did not discover ${count} ${upstream} endpoints in 10 s`);
}

export async function startDrillMesh(options: {
  sagaTimeoutMs: number;
  /** Run JetStream as a cluster of this many nats-servers (see LocalMeshOptions.natsCluster). */
  natsCluster?: number;
  postgresSettings?: Readonly<Record<string, string>>;
  tracing?: boolean;
}): Promise<DrillMesh> {
  const dataDir = await mkdtemp(join(tmpdir(), "mesh-drill-"));
  const mesh = await startLocalMesh({
    dataDir,
    reset: true,
    gatewayPort: 0,
    logLevel: "error",
    write: () => {},
    replicas: REPLICAS,
    sagaTimeoutMs: options.sagaTimeoutMs,
    natsCluster: options.natsCluster,
    postgresSettings: options.postgresSettings,
    tracing: options.tracing,
  });
  const client = await startClientSidecar(mesh, dataDir).catch(async (error: unknown) => {
    await mesh.stop();
    throw error;
  });
  const pids = () => [...mesh.pids(), client.sidecar.child.pid ?? 0];
  let stopping: Promise<number[]> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const started = pids();
      await client.sidecar.stop();
      await mesh.stop();
      await rm(dataDir, { recursive: true, force: true });
      return started.filter(isAlive);
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the mesh\n`);
      void stop().then(() => process.exit(130));
    });
  const transport = createGrpcTransport({ baseUrl: `http://${client.outbound}` });
  const inventory = createClient(InventoryService, transport);
  const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));
  return {
    mesh,
    gateway: createClient(GatewayService, transport),
    order: createClient(OrderService, transport),
    clientSidecar: client.sidecar,
    initialStock,
    async restock(units) {
      await inventory.adjustStock({
        adjustmentId: randomUUID(),
        productId: LOAD_PRODUCT,
        delta: BigInt(units),
        reason: "drill restock",
      });
      initialStock.set(LOAD_PRODUCT, (initialStock.get(LOAD_PRODUCT) ?? 0) + units);
    },
    async settle() {
      const started = Date.now();
      let report = await checkInvariants(mesh.databaseUrls, initialStock);
      while (report.violations.length && Date.now() - started < 120_000) {
        await sleep(500);
        report = await checkInvariants(mesh.databaseUrls, initialStock);
      }
      return { report, waitedMs: Date.now() - started };
    },
    pids,
    stop,
  };
}
