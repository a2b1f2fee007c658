// A small synthetic mesh for the dashboard's own tests and a local look at the page: a consul-dev agent with an
// order, an inventory and a payment instance whose sidecars are fakes serving /metrics and /clusters, a payment
// instance whose sidecar does not answer, a nats-server holding dead letters, an order service answering
// ListStuckOrders, and a dashboard fed with order saga traces over OTLP/HTTP.

import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeOrderService } from "@mesh/cli/fake-order-service";
import { type RunningConsulDev, startConsulDev } from "@mesh/consul-dev";
import { startNatsServer } from "@mesh/embedded";
import { OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { type RunningDashboard, startDashboard } from "../dashboard.ts";
import { publishDeadLetters, type SyntheticDeadLetter } from "./dead-letters.ts";
import { startFakeSidecar } from "./fake-sidecar.ts";
import { orderSagaTrace, otlpJson, otlpProtobuf } from "./synthetic.ts";

export interface SyntheticMesh {
  consul: RunningConsulDev;
  dashboard: RunningDashboard;
  orderIds: string[];
  /** The dead letters in its NATS: two of the first order's events, one of another order's. */
  deadLetters: SyntheticDeadLetter[];
  /** What the order service reports stuck: order id -> what it waits for. */
  stuckSagas: Record<string, string>;
  /** A port nothing listens on (the unreachable sidecar's admin port). */
  deadPort: number;
  stop(): Promise<void>;
}

const RESERVE = "/shop.inventory.v1.InventoryService/ReserveStock";
const CHARGE = "/shop.payment.v1.PaymentService/Charge";
const PLACE = "/shop.order.v1.OrderService/PlaceOrder";

export async function startSyntheticMesh(options: { scrapeIntervalMs?: number } = {}): Promise<SyntheticMesh> {
  const consul = await startConsulDev({ port: 0, nodeName: "dev-node" });
  const servers: Server[] = [];
  const order = await startFakeSidecar(
    [
      { direction: "inbound", upstream: "order", method: PLACE, perScrape: { "0": 10 }, latency: 0.02 },
      { direction: "outbound", upstream: "inventory", method: RESERVE, perScrape: { "0": 10 }, latency: 0.004 },
      { direction: "outbound", upstream: "payment", method: CHARGE, perScrape: { "0": 8, "14": 2 }, latency: 0.04 },
    ],
    {
      inventory: { breaker: "closed", endpoints: [{ ejected: false }] },
      payment: { breaker: "half_open", endpoints: [{ ejected: true }] },
    },
  );
  const inventory = await startFakeSidecar(
    [{ direction: "inbound", upstream: "inventory", method: RESERVE, perScrape: { "0": 10 }, latency: 0.003 }],
    {},
  );
  servers.push(order.server, inventory.server);
  // A port that was free a moment ago: nothing answers there.
  const dead = await startFakeSidecar([], {});
  const deadPort = dead.port;
  await new Promise((resolve) => dead.server.close(resolve));

  const register = (id: string, service: string, port: number, adminPort: number) =>
    fetch(`${consul.url}/v1/agent/service/register`, {
      method: "PUT",
      body: JSON.stringify({
        Name: service,
        ID: id,
        Address: "127.0.0.1",
        Port: port,
        Meta: { "admin-port": String(adminPort), "grpc-services": "" },
        Check: { TTL: "1h", Status: "passing" },
      }),
    });
  await register("order-1", "order", 15000, order.port);
  await register("inventory-1", "inventory", 15002, inventory.port);
  await register("payment-1", "payment", 15004, deadPort);

  const orderIds = ["order-7f3a", "order-8b21"];
  const natsDir = await mkdtemp(join(tmpdir(), "dashboard-nats-"));
  const nats = await startNatsServer({ dataDir: natsDir });
  const deadLetters: SyntheticDeadLetter[] = [
    { eventId: "evt-1", orderId: orderIds[0] as string, consumer: "payment-order-cancelled", reason: "card expired" },
    { eventId: "evt-1", orderId: orderIds[0] as string, consumer: "inventory-order-cancelled", reason: "boom" },
    { eventId: "evt-2", orderId: "order-9c44", consumer: "payment-order-cancelled", reason: "card expired" },
  ];
  await publishDeadLetters(nats.url, deadLetters);
  const stuckSagas = { "order-9c44": "payment: refund", "order-a101": "inventory: reservation" };
  const orderService = await startFakeOrderService([
    { orderId: "order-9c44", status: OrderStatus.CANCELLING, waitingFor: "payment: refund", stuckForSeconds: 420n },
    { orderId: "order-a101", status: OrderStatus.PENDING, waitingFor: "inventory: reservation", stuckForSeconds: 75n },
  ]);

  const dashboard = await startDashboard({
    port: 0,
    consulAddr: consul.address,
    scrapeIntervalMs: options.scrapeIntervalMs ?? 500,
    windowMs: 10_000,
    natsUrl: nats.url,
    orderService: orderService.address,
  });
  const now = Date.now();
  for (const [index, orderId] of orderIds.entries()) {
    const spans = orderSagaTrace(orderId, now - 5000 + index * 1000);
    // Spans of one trace arrive in several batches from several processes, in both encodings.
    const half = Math.ceil(spans.length / 2);
    for (const [body, type] of [
      [otlpProtobuf(spans.slice(0, half)), "application/x-protobuf"],
      [otlpJson(spans.slice(half)), "application/json"],
    ] as const) {
      const response = await fetch(`${dashboard.otlpEndpoint}/v1/traces`, {
        method: "POST",
        body,
        headers: { "content-type": type },
      });
      if (!response.ok) throw new Error(`the dashboard refused synthetic spans: ${response.status}`);
    }
  }
  return {
    consul,
    dashboard,
    orderIds,
    deadLetters,
    stuckSagas,
    deadPort,
    async stop() {
      await dashboard.stop();
      for (const server of servers) await new Promise((resolve) => server.close(resolve));
      await Promise.all([consul.stop(), orderService.shutdown(0), nats.stop()]);
      await rm(natsDir, { recursive: true, force: true });
    },
  };
}
