import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type RunningNatsCluster,
  type RunningNatsServer,
  startNatsCluster,
  startNatsServer,
  startPostgres,
} from "@mesh/embedded";
import { type RunningGateway, startGateway } from "@mesh/gateway";
import { startInventory } from "@mesh/inventory";
import { descriptorSet } from "@mesh/kit";
import { startOrder } from "@mesh/order";
import { startPayment } from "@mesh/payment";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { file_shop_inventory_v1_inventory, InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentService } from "@mesh/proto/shop/payment/v1/payment_pb";
import { file_shop_payment_v1_provider } from "@mesh/proto/shop/payment/v1/provider_pb";
import { type RunningProvider, startProvider } from "@mesh/provider";
import { MethodCatalog, parseConfig, type RunningSidecar, startSidecar } from "@mesh/sidecar";
import { pino } from "pino";

// The shop on real parts: a private nats-server, one PostgreSQL database per service, the services in process, and
// sidecars between them (order -> inventory, payment -> provider) on free loopback ports. The gateway, in process
// too, calls the services directly.

function shopCatalog(): MethodCatalog {
  const catalog = new MethodCatalog();
  catalog.addDescriptorSet(descriptorSet([file_shop_inventory_v1_inventory, file_shop_payment_v1_provider]));
  return catalog;
}

async function sidecar(config: Record<string, unknown>, catalog: MethodCatalog): Promise<RunningSidecar> {
  const parsed = parseConfig({ admin: { listen: "127.0.0.1:0" }, ...config });
  return startSidecar({ config: parsed, catalog, log: pino({ level: process.env.LOG_LEVEL ?? "silent" }) });
}

export interface ShopMesh {
  order: Client<typeof OrderService>;
  inventory: Client<typeof InventoryService>;
  payment: Client<typeof PaymentService>;
  /** The edge: PlaceOrder takes a card number, which it exchanges for payment's token. */
  gateway: Client<typeof GatewayService>;
  /** A fresh token for a card, as the gateway gets one: for orders placed on the order service directly. */
  tokenize(cardNumber: string): Promise<{ cardToken: string; cardLast4: string }>;
  provider: RunningProvider;
  /** The one nats-server (not with natsCluster: see natsCluster). */
  nats: RunningNatsServer;
  /** The JetStream cluster the services use, when started with natsCluster. */
  natsCluster: RunningNatsCluster | undefined;
  /** What the services were given as NATS_URL: the server's URL, or every cluster node's, comma-separated. */
  natsUrl: string;
  /** Stops the nats-server (its data stays) and starts it again on the same port after pauseMs. */
  restartNats(pauseMs: number, meanwhile?: () => Promise<void>): Promise<void>;
  /** Closes inventory's sidecar (order's only way to inventory), runs `meanwhile`, then opens it again on its port. */
  inventoryAway<T>(meanwhile: () => Promise<T>): Promise<T>;
  /** Stops PostgreSQL (every service's database) and starts it again on the same port after pauseMs. */
  restartPostgres(pauseMs: number): Promise<void>;
  databaseUrls: { order: string; inventory: string; payment: string };
  /** PostgreSQL's postmaster, and a URL of its maintenance database (for the benchmarks' accounting). */
  postgres: { pid: number; adminUrl: string };
  stop(): Promise<void>;
}

/** The shop with a private nats-server and a private PostgreSQL (so both can be restarted), a database per service. */
export async function startShopMesh(options: {
  sagaTimeoutMs: number;
  /** Run JetStream as a cluster of this many nats-servers (streams then get three replicas) instead of one. */
  natsCluster?: number;
  /** PostgreSQL server settings (see startPostgres). */
  postgresSettings?: Readonly<Record<string, string>>;
  /** How long payment waits for one gateway call (PaymentOptions.gatewayTimeoutMs; default its own). */
  paymentGatewayTimeoutMs?: number;
}): Promise<ShopMesh> {
  const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const catalog = shopCatalog();
  const workDir = await mkdtemp(join(tmpdir(), "mesh-shop-test-"));
  await chmod(workDir, 0o755);
  const natsCluster = options.natsCluster
    ? await startNatsCluster({ dataDir: join(workDir, "nats"), nodes: options.natsCluster })
    : undefined;
  let nats = natsCluster ? undefined : await startNatsServer({ dataDir: join(workDir, "nats") });
  const natsUrl = natsCluster?.url ?? (nats as RunningNatsServer).url;
  const postgresOptions = {
    dataDir: join(workDir, "postgres"),
    databases: ["order", "inventory", "payment"],
    settings: options.postgresSettings,
  };
  let postgres = await startPostgres(postgresOptions);
  const databases = {
    order: postgres.url("order"),
    inventory: postgres.url("inventory"),
    payment: postgres.url("payment"),
  };
  const grpc = { host: "127.0.0.1", port: 0 };
  const inventory = await startInventory({ databaseUrl: databases.inventory, natsUrl, grpc, log });
  const provider = await startProvider({ ...grpc, behaviour: { latencyMs: 0, failureRate: 0 }, log });
  const inventoryInbound = (port: number) => ({
    inbound: { listen: `127.0.0.1:${port}`, app: inventory.server.address },
  });
  let inventorySidecar = await sidecar(inventoryInbound(0), catalog);
  const providerSidecar = await sidecar({ inbound: { listen: "127.0.0.1:0", app: provider.address } }, catalog);
  const upstream = (name: string, service: string, target: RunningSidecar) => ({
    [name]: { services: [service], endpoints: [`127.0.0.1:${target.ports.inbound}`] },
  });
  const orderSidecar = await sidecar(
    {
      outbound: { listen: "127.0.0.1:0" },
      upstreams: upstream("inventory", "shop.inventory.v1.InventoryService", inventorySidecar),
    },
    catalog,
  );
  const paymentSidecar = await sidecar(
    {
      outbound: { listen: "127.0.0.1:0" },
      upstreams: upstream("provider", "shop.payment.v1.PaymentProviderService", providerSidecar),
    },
    catalog,
  );
  const payment = await startPayment({
    databaseUrl: databases.payment,
    natsUrl,
    grpc,
    sidecarOutbound: `127.0.0.1:${paymentSidecar.ports.outbound}`,
    gatewayTimeoutMs: options.paymentGatewayTimeoutMs,
    log,
  });
  const order = await startOrder({
    databaseUrl: databases.order,
    natsUrl,
    grpc,
    sidecarOutbound: `127.0.0.1:${orderSidecar.ports.outbound}`,
    sagaTimeoutMs: options.sagaTimeoutMs,
    sweepIntervalMs: 200,
    log,
  });
  const client = <S extends Parameters<typeof createClient>[0]>(service: S, address: string) =>
    createClient(service, createGrpcTransport({ baseUrl: `http://${address}` }));
  const backends = {
    order: client(OrderService, order.server.address),
    inventory: client(InventoryService, inventory.server.address),
    payment: client(PaymentService, payment.server.address),
  };
  const gateway: RunningGateway = await startGateway({
    http: { host: "127.0.0.1", port: 0 },
    grpc: { host: "127.0.0.1", port: 0 },
    sidecarOutbound: "127.0.0.1:1", // unused: the backends are given
    backends,
    log,
  });
  return {
    ...backends,
    gateway: client(GatewayService, `127.0.0.1:${gateway.grpcPort}`),
    async tokenize(cardNumber) {
      const { cardToken, cardLast4 } = await backends.payment.tokenizeCard({ requestId: randomUUID(), cardNumber });
      return { cardToken, cardLast4 };
    },
    provider,
    get nats() {
      if (!nats) throw new Error("the shop runs a NATS cluster: see natsCluster");
      return nats;
    },
    natsCluster,
    natsUrl,
    async restartNats(pauseMs, meanwhile) {
      if (!nats) throw new Error("the shop runs a NATS cluster: restart its nodes (natsCluster.nodes)");
      await nats.stop();
      await meanwhile?.();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      nats = await startNatsServer({ dataDir: join(workDir, "nats"), port: nats.port });
    },
    async inventoryAway(meanwhile) {
      const port = inventorySidecar.ports.inbound as number;
      await inventorySidecar.close();
      try {
        return await meanwhile();
      } finally {
        inventorySidecar = await sidecar(inventoryInbound(port), catalog);
      }
    },
    async restartPostgres(pauseMs) {
      await postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      postgres = await startPostgres({ ...postgresOptions, port: postgres.port });
    },
    databaseUrls: databases,
    get postgres() {
      return { pid: postgres.pid, adminUrl: postgres.url("postgres") };
    },
    async stop() {
      await gateway.stop();
      await order.stop(500);
      await payment.stop(500);
      await inventory.stop(500);
      for (const each of [orderSidecar, paymentSidecar, inventorySidecar, providerSidecar]) await each.close();
      await provider.shutdown(100);
      await (natsCluster ?? nats)?.stop();
      await postgres.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
