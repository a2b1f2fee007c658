// Checks consul-dev's /ui status page in a real headless browser (Debian's chromium) and saves a screenshot:
//
//   npm run check:consul-ui      (installs chromium with apt when missing, as root)
//
// It registers a healthy and a failing instance, lets the page load and run its script, then asserts that the
// rendered page lists the instances with their check states, the intentions (L4 and L7) and the Connect CA (trust
// domain, each service's leaf serial and time left), follows a new registration and a new intention live, and writes
// deploy/consul-dev/ui-screenshot.png.
import { resolve } from "node:path";
import { findExecutable } from "@mesh/embedded";
import { chromium as playwright } from "playwright-core";
import { startConsulDev } from "./src/index.ts";

const launch = playwright.launch.bind(playwright);
const chromium = (await findExecutable("chromium")) ?? (await findExecutable("chromium-browser"));
if (!chromium) {
  console.error("chromium not found: install it with: sudo apt-get install chromium");
  process.exit(1);
}

const agent = await startConsulDev({
  port: 0,
  nodeName: "dev-node",
  clusterId: "7f3e9a1b-0c2d-4e5f-8a6b-1c2d3e4f5a6b",
});
const screenshot = resolve(import.meta.dirname, "ui-screenshot.png");
try {
  const put = (path: string, body: unknown) =>
    fetch(`${agent.url}${path}`, { method: "PUT", body: JSON.stringify(body) });
  for (const [id, port, status] of [
    ["inventory-1", 15000, "passing"],
    ["inventory-2", 15002, "critical"],
  ] as const) {
    await put("/v1/agent/service/register", {
      Name: "inventory",
      ID: id,
      Address: "127.0.0.1",
      Port: port,
      Tags: ["v1"],
      Meta: { "grpc-services": "shop.inventory.v1.InventoryService", version: "1.0.0" },
      Check: { TTL: "1h", Status: status, Notes: "gRPC health through the sidecar" },
    });
  }
  await put("/v1/agent/check/fail/service:inventory-2?note=app%20not%20serving", {});
  await put("/v1/agent/service/register", {
    Name: "order",
    ID: "order-1",
    Address: "127.0.0.1",
    Port: 15004,
    Check: { TTL: "1h", Status: "passing" },
  });

  const intention = (source: string, destination: string, body: unknown) =>
    put(`/v1/connect/intentions/exact?source=${source}&destination=${destination}`, body);
  await intention("*", "*", { Action: "deny", Description: "deny by default" });
  await intention("order", "inventory", { Action: "allow", Description: "order reserves stock" });
  await intention("gateway", "order", {
    Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/shop.order.v1.OrderService/", Methods: ["POST"] } }],
  });
  const leaves: Record<string, { SerialNumber: string }> = {};
  for (const service of ["inventory", "order"]) {
    leaves[service] = (await (await fetch(`${agent.url}/v1/agent/connect/ca/leaf/${service}`)).json()) as {
      SerialNumber: string;
    };
  }

  // Playwright drives Debian's chromium (no browser download); the page keeps a blocking query open to stay live,
  // so the check waits for rendered content rather than for the network to go idle.
  const browser = await launch({
    executablePath: chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${agent.url}/ui`);
    await page.waitForSelector('section[data-service="order"]');
    await page.waitForSelector('tr[data-leaf="order"]');
    const text = await page.textContent("body");
    const html = await page.content();
    const expected = [
      "inventory-1",
      "inventory-2",
      "order-1",
      "app not serving",
      "node dev-node",
      "1/2 passing",
      "order reserves stock",
      "/shop.order.v1.OrderService/",
      "7f3e9a1b-0c2d-4e5f-8a6b-1c2d3e4f5a6b.consul",
      leaves.inventory?.SerialNumber ?? "inventory leaf",
      leaves.order?.SerialNumber ?? "order leaf",
      "2d 23h left",
    ];
    const missing = expected.filter((each) => !text?.includes(each));
    if (!html.includes('class="badge passing"') || !html.includes('class="badge critical"'))
      missing.push("check state badges");
    const rows = await page.$$eval("tr[data-intention]", (found) =>
      found.map((row) => row.getAttribute("data-intention")),
    );
    for (const row of ["*->*", "order->inventory", "gateway->order"]) {
      if (!rows.includes(row)) missing.push(`intention ${row}`);
    }
    if (missing.length) throw new Error(`the rendered /ui page lacks: ${missing.join(", ")}`);
    // Live: a new instance appears without a reload.
    await put("/v1/agent/service/register", {
      Name: "payment",
      ID: "payment-1",
      Port: 15006,
      Check: { TTL: "1h", Status: "passing" },
    });
    await page.waitForSelector('section[data-service="payment"]', { timeout: 5000 });
    // Live: a new intention and a new leaf appear without a reload.
    await intention("payment", "order", { Action: "deny" });
    await fetch(`${agent.url}/v1/agent/connect/ca/leaf/payment`);
    await page.waitForSelector('tr[data-intention="payment->order"]', { timeout: 5000 });
    await page.waitForSelector('tr[data-leaf="payment"]', { timeout: 5000 });
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  process.stdout.write(
    `ui ok: the page lists every instance and check state, the intentions and the leaf certificates; screenshot at ${screenshot}\n`,
  );
} finally {
  await agent.stop();
}
