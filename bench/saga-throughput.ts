// Completed sagas per second and saga completion latency, on this machine, through the real shop: a private
// nats-server and PostgreSQL, the services with their sidecars, orders placed with a fixed number in flight.
//
//   npm run bench:saga             full run (about 40 s), writes bench/results/saga-throughput.md
//   npm run bench:saga -- --quick  a short run, for checking that the script works
//
// Completion is seen on the event stream (OrderConfirmed or OrderCancelled for the order), not by polling.
import { randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { connect } from "@nats-io/transport-node";
import { checkInvariants } from "../test/shop/invariants.ts";
import { startShopMesh } from "../test/shop/shop-mesh.ts";
import { publishReport } from "./publish-report.ts";

const quick = process.argv.includes("--quick");
const IN_FLIGHT = 32;
const SECONDS = quick ? 5 : 30;

const shop = await startShopMesh({ sagaTimeoutMs: 30_000 });
try {
  // Plenty of stock, so every saga runs its whole course to CONFIRMED.
  const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));
  await shop.inventory.adjustStock({
    adjustmentId: randomUUID(),
    productId: "sku-mug",
    delta: 1_000_000n,
    reason: "bench",
  });
  initialStock.set("sku-mug", (initialStock.get("sku-mug") ?? 0) + 1_000_000);

  const nc = await connect({ servers: shop.nats.url });
  const started = new Map<string, number>();
  const latencies: number[] = [];
  let cancelled = 0;
  let waiting: (() => void)[] = [];
  const subscription = nc.subscribe("shop.order.>");
  const watching = (async () => {
    for await (const message of subscription) {
      if (message.subject !== "shop.order.confirmed" && message.subject !== "shop.order.cancelled") continue;
      const orderId = message.headers?.get("Shop-Correlation-Id") ?? "";
      const at = started.get(orderId);
      if (at === undefined) continue;
      started.delete(orderId);
      latencies.push(performance.now() - at);
      if (message.subject === "shop.order.cancelled") cancelled++;
      waiting.shift()?.();
    }
  })();

  const placeOne = async () => {
    const done = new Promise<void>((resolveDone) => waiting.push(resolveDone));
    const t0 = performance.now();
    // As the gateway does: the card goes to payment for a token, the order carries only the token.
    const { order } = await shop.order.createOrder({
      requestId: randomUUID(),
      customerId: "bench",
      lines: [{ productId: "sku-mug", quantity: 1 }],
      ...(await shop.tokenize("4242424242424242")),
      currency: "USD",
    });
    started.set(order?.orderId ?? "", t0);
    await done;
  };

  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < deadline) await placeOne();
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  waiting = [];
  await subscription.drain();
  await watching;
  await nc.close();

  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  let report = await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger());
  for (let i = 0; i < 50 && report.violations.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    report = await checkInvariants(shop.databaseUrls, initialStock, () => shop.provider.ledger());
  }
  const lines = [
    "# Saga throughput, measured",
    "",
    `Produced by \`npm run bench:saga${quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs ` +
      `(${cpus()[0]?.model.trim()}), Node ${process.version}; every process of the shop (services, sidecars, nats-server, PostgreSQL, this load) on the same machine.`,
    "",
    `Load: ${IN_FLIGHT} orders in flight for ${SECONDS} s, one line each; a saga is complete when OrderConfirmed (or OrderCancelled) for it is on the stream.`,
    "Each saga crosses: CreateOrder (order -> inventory through the sidecar for prices), OrderCreated -> inventory reserves -> payment charges the",
    "gateway through its sidecar -> order confirms -> inventory commits: four database transactions with outbox rows and five events.",
    "",
    "| completed sagas | per second | confirmed | cancelled | p50 ms | p99 ms | max ms | invariants after the run |",
    "|---|---|---|---|---|---|---|---|",
    `| ${latencies.length} | ${(latencies.length / elapsed).toFixed(1)} | ${latencies.length - cancelled} | ${cancelled} | ${at(0.5).toFixed(1)} | ${at(0.99).toFixed(1)} | ${(latencies.at(-1) ?? 0).toFixed(1)} | ${report.violations.length ? `VIOLATED: ${report.violations.slice(0, 3).join("; ")}` : "hold"} |`,
    "",
  ];
  const text = lines.join("\n");
  await publishReport("saga-throughput", text, !quick);
} finally {
  await shop.stop();
}
