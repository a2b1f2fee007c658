// Takes the dashboard screenshots the README shows, from the real local mesh: orders placed and reads running
// through the gateway while the page is checked in headless Chromium (the same check as the local-mesh test).
//
//   npm run check:dashboard      (writes deploy/dashboard/screenshots/overview.png and trace.png)
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { steadyLoad } from "@mesh/kit/testing";
import { startLocalMesh } from "@mesh/local";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { checkDashboardPage } from "./src/page-check.ts";

const dataDir = await mkdtemp(join(tmpdir(), "mesh-dashboard-shots-"));
const mesh = await startLocalMesh({ dataDir, reset: true, gatewayPort: 0, logLevel: "warn", write: () => {} });
try {
  const gateway = createClient(GatewayService, createGrpcTransport({ baseUrl: mesh.gatewayHttp }));
  const order = () =>
    gateway.placeOrder({
      requestId: randomUUID(),
      customerId: "screenshot",
      lines: [{ productId: "sku-mug", quantity: 1 }],
      cardNumber: "4242424242424242",
      currency: "USD",
    });
  const reads = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }), 2);
  const orders = steadyLoad(() => order().then(() => sleep(200)), 1);
  const placed = await order();
  await sleep(3000);
  const dir = resolve(import.meta.dirname, "screenshots");
  const result = await checkDashboardPage({
    url: `${mesh.dashboardUrl}/`,
    orderId: placed.order?.orderId as string,
    services: ["gateway", "order", "inventory", "payment", "provider"],
    minSagaSteps: 8,
    screenshots: { overview: join(dir, "overview.png"), trace: join(dir, "trace.png") },
  });
  await Promise.all([reads.stop(), orders.stop()]);
  process.stdout.write(`dashboard page ok: ${JSON.stringify(result)}\nscreenshots in ${dir}\n`);
} finally {
  await mesh.stop();
  await rm(dataDir, { recursive: true, force: true });
}
