import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { checkDashboardPage } from "@mesh/dashboard";
import { isAlive } from "@mesh/embedded";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import { steadyLoad } from "@mesh/kit/testing";
import { type InstanceInfo, type LocalMesh, startLocalMesh } from "@mesh/local";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JaegerSpan, TraceView, tracesTagged } from "./jaeger-trace.ts";
import { checkInvariants } from "./shop/invariants.ts";

// The one-command local mesh, started through the same code as `npm start`: every service and sidecar as its own
// process, consul-dev for discovery, a private nats-server and PostgreSQL.
const CLI = resolve(import.meta.dirname, "../deploy/cli/bin/mesh.js");
let mesh: LocalMesh;
let confirmedOrderId = "";
let dataDir: string;
const output: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mesh-local-test-"));
  try {
    mesh = await startLocalMesh({
      dataDir,
      reset: true,
      gatewayPort: 0,
      logLevel: "warn",
      write: (line) => output.push(line),
    });
  } catch (error) {
    // The processes' own words say why one of them did not come up.
    process.stderr.write(`${output.join("\n")}\n`);
    throw error;
  }
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** gRPC to the gateway's public port (h2c beside HTTP/1.1); its sidecar's port takes only mesh identities. */
const gatewayGrpc = () => createClient(GatewayService, createGrpcTransport({ baseUrl: mesh.gatewayHttp }));

/** A PlaceOrder request for one product, with a fresh request id. */
const orderRequest = (customerId: string, productId: string, quantity: number, cardNumber = "4242424242424242") => ({
  requestId: randomUUID(),
  customerId,
  lines: [{ productId, quantity }],
  cardNumber,
  currency: "USD",
});

/** Runs the mesh CLI against the mesh's Consul. */
const meshCli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], {
    env: { ...process.env, CONSUL_HTTP_ADDR: mesh.consulUrl, MESH_TRACES_URL: mesh.dashboardUrl },
  }).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

/** The trace of an order's PlaceOrder (not of later reads of it), once `complete` says all of it has arrived. */
async function orderTrace(orderId: string, complete: (view: TraceView) => boolean): Promise<TraceView> {
  let seen = "none yet";
  for (let i = 0; i < 60; i++) {
    const traces = await tracesTagged(mesh.dashboardUrl, "shop.order_id", orderId);
    const views = traces.map((trace) => new TraceView(trace));
    const placed = views.find(
      (view) => view.find("gateway", "server", "shop.gateway.v1.GatewayService/PlaceOrder").length > 0,
    );
    if (placed && complete(placed)) return placed;
    seen = placed ? placed.describe() : `${traces.length} trace(s) without the gateway's PlaceOrder`;
    await sleep(250);
  }
  throw new Error(`the trace of order ${orderId} is incomplete after 15 s; it has:\n${seen}`);
}

async function json(method: string, body: unknown) {
  const response = await fetch(`${mesh.gatewayHttp}/shop.gateway.v1.GatewayService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the local mesh", () => {
  it("places orders through the gateway with JSON over HTTP and with gRPC, and shows their whole saga", async () => {
    const placed = await json("PlaceOrder", orderRequest("alice", "sku-mug", 2));
    expect(placed.status).toBe(200);
    const orderId = (placed.body.order as { orderId: string }).orderId;
    confirmedOrderId = orderId;
    const viaGrpc = await gatewayGrpc().placeOrder(orderRequest("bob", "sku-filter", 1, "4000000000000002"));
    // The reservation is committed after the order is confirmed (inventory reacts to OrderConfirmed): wait for both.
    const settled = (body: Record<string, unknown>) =>
      (body.order as { status?: string } | undefined)?.status === "ORDER_STATUS_CONFIRMED" &&
      (body.reservation as { status?: string } | undefined)?.status === "RESERVATION_STATUS_COMMITTED";
    let view = await json("GetOrderView", { orderId });
    for (let i = 0; i < 150 && !settled(view.body); i++) {
      await sleep(100);
      view = await json("GetOrderView", { orderId });
    }
    expect(view.body).toMatchObject({
      order: { status: "ORDER_STATUS_CONFIRMED" },
      payments: [{ status: "PAYMENT_STATUS_CAPTURED" }],
      reservation: { status: "RESERVATION_STATUS_COMMITTED" },
    });
    const bad = await json("GetOrderView", { orderId: "not-a-uuid" });
    expect(bad).toEqual({
      status: 400,
      body: { code: "invalid_argument", message: 'order_id must be a UUID, got "not-a-uuid"' },
    });
    const garbled = await fetch(`${mesh.gatewayHttp}/shop.gateway.v1.GatewayService/PlaceOrder`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"requestId": ',
    });
    expect({ status: garbled.status, body: await garbled.json() }).toEqual({
      status: 400,
      body: { code: "invalid_argument", message: expect.stringMatching(/JSON/) },
    });
    expect(viaGrpc.order?.status).toBe(OrderStatus.PENDING);
  });

  it("records an order as one trace: the gateway's request, each call through the sidecars, the database, the saga's events", async () => {
    const orderId = confirmedOrderId;
    // Each process exports on its own schedule: wait for the last span of each.
    const lastOfEach: [string, string, string][] = [
      ["inventory", "consumer", "process shop.order.confirmed"],
      ["provider", "server", "shop.payment.v1.PaymentProviderService/Charge"],
      ["provider-sidecar", "server", "shop.payment.v1.PaymentProviderService/Charge"],
      ["payment-sidecar", "client", "shop.payment.v1.PaymentProviderService/Charge"],
      ["order", "producer", "publish shop.order.confirmed"],
      ["gateway-sidecar", "client", "shop.order.v1.OrderService/CreateOrder"],
      // A call span and its attempts may leave a sidecar in different batches.
      ["gateway-sidecar", "client", "attempt shop.order.v1.OrderService/CreateOrder"],
      ["order-sidecar", "client", "attempt shop.inventory.v1.InventoryService/ListProducts"],
      ["payment-sidecar", "client", "attempt shop.payment.v1.PaymentProviderService/Charge"],
      ["inventory-sidecar", "server", "shop.inventory.v1.InventoryService/ListProducts"],
    ];
    const view = await orderTrace(orderId, (each) =>
      lastOfEach.every(([service, kind, name]) => each.find(service, kind, name).length > 0),
    );
    const gateway = view.one("gateway", "server", "shop.gateway.v1.GatewayService/PlaceOrder");
    expect(view.parent(gateway), "the gateway's request starts the trace").toBeUndefined();

    // gateway -> order: the gateway's sidecar (call and attempt), order's sidecar, then order's handler.
    const toOrder = view.one("gateway-sidecar", "client", "shop.order.v1.OrderService/CreateOrder");
    expect(view.isUnder(toOrder, gateway)).toBe(true);
    const orderInbound = view.one("order-sidecar", "server", "shop.order.v1.OrderService/CreateOrder");
    const attempt = view.parent(orderInbound) as JaegerSpan;
    expect(attempt.operationName).toBe("attempt shop.order.v1.OrderService/CreateOrder");
    expect(view.tag(attempt, "mesh.attempt")).toBe(1);
    expect(view.parent(attempt)?.spanID).toBe(toOrder.spanID);
    const handler = view.one("order", "server", "shop.order.v1.OrderService/CreateOrder");
    expect(view.parent(handler)?.spanID).toBe(orderInbound.spanID);
    expect(view.tag(handler, "shop.order_id")).toBe(orderId);

    // order -> inventory (prices), through both sidecars; and the order's database statements, under its handler.
    const toInventory = view.find("order-sidecar", "client", "shop.inventory.v1.InventoryService/ListProducts");
    expect(toInventory.length).toBeGreaterThan(0);
    for (const call of toInventory) expect(view.isUnder(call, handler)).toBe(true);
    const inventoryInbound = view.find(
      "inventory-sidecar",
      "server",
      "shop.inventory.v1.InventoryService/ListProducts",
    );
    expect(inventoryInbound.length).toBe(toInventory.length);
    for (const server of inventoryInbound) expect(toInventory.some((call) => view.isUnder(server, call))).toBe(true);
    const statements = view.trace.spans.filter(
      (span) => view.service(span) === "order" && view.tag(span, "db.system") === "postgresql",
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements.filter((span) => view.isUnder(span, handler)))
      expect(view.tag(statement, "span.kind")).toBe("client");
    expect(statements.some((span) => view.isUnder(span, handler))).toBe(true);

    // The saga: each event's consumer is a child of its publish, which is under what wrote the event.
    const created = view.one("order", "producer", "publish shop.order.created");
    expect(view.isUnder(created, handler)).toBe(true);
    const reserving = view.one("inventory", "consumer", "process shop.order.created");
    expect(view.parent(reserving)?.spanID).toBe(created.spanID);
    const reserved = view.one("inventory", "producer", "publish shop.inventory.reserved");
    expect(view.isUnder(reserved, reserving)).toBe(true);
    const charging = view.one("payment", "consumer", "process shop.inventory.reserved");
    expect(view.parent(charging)?.spanID).toBe(reserved.spanID);
    const charge = view.one("payment-sidecar", "client", "shop.payment.v1.PaymentProviderService/Charge");
    expect(view.isUnder(charge, charging)).toBe(true);
    const provider = view.one("provider", "server", "shop.payment.v1.PaymentProviderService/Charge");
    expect(view.isUnder(provider, charge)).toBe(true);
    const completed = view.one("payment", "producer", "publish shop.payment.completed");
    expect(view.isUnder(completed, charging)).toBe(true);
    const confirming = view.one("order", "consumer", "process shop.payment.completed");
    expect(view.parent(confirming)?.spanID).toBe(completed.spanID);
    const confirmed = view.one("order", "producer", "publish shop.order.confirmed");
    expect(view.isUnder(confirmed, confirming)).toBe(true);
    const committing = view.one("inventory", "consumer", "process shop.order.confirmed");
    expect(view.parent(committing)?.spanID).toBe(confirmed.spanID);
    for (const span of [created, reserving, charging, confirming, confirmed, committing]) {
      expect(view.tag(span, "shop.order_id")).toBe(orderId);
      expect(view.tag(span, "messaging.system")).toBe("nats");
    }
    expect(view.tag(charging, "shop.event.outcome")).toBe("applied");

    // `mesh trace <orderId>` prints the same trace as a waterfall.
    const printed = await meshCli("trace", orderId);
    expect(printed.stdout).toContain("GatewayService/PlaceOrder");
    expect(printed.stdout).toContain("process shop.payment.completed");
  }, 30_000);

  it("shows the mesh on the dashboard page in a browser: every service, the order's trace and saga, live updates", async () => {
    const gateway = gatewayGrpc();
    const load = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }));
    try {
      const result = await checkDashboardPage({
        url: `${mesh.dashboardUrl}/`,
        orderId: confirmedOrderId,
        services: ["gateway", "order", "inventory", "payment", "provider"],
        minSagaSteps: 8,
      });
      expect(result.services).toEqual(expect.arrayContaining(["gateway", "order", "inventory", "payment", "provider"]));
      expect(result.waterfallRows).toBeGreaterThan(30);
      expect(result.refreshes.last).toBeGreaterThan(result.refreshes.first);
      expect(result.ratePoints).toBeGreaterThanOrEqual(2);
    } finally {
      const { failures } = await load.stop();
      expect(failures).toBe(0);
    }
  }, 90_000);

  it("shows golden metrics per edge and per service with `mesh stat` while calls run", async () => {
    const gateway = gatewayGrpc();
    const load = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }));
    const edges = await meshCli("stat", "--window", "2");
    const services = await meshCli("stat", "--by", "service", "--window", "1");
    const { failures } = await load.stop();
    expect(failures).toBe(0);
    expect(edges.stdout).toMatch(/^from\s+to\s+rps\s+success\s+p50\s+p95\s+p99/);
    // Every ListProducts goes gateway -> inventory: a rate above zero, all of it successful, its latency measured.
    const edge = edges.stdout.split("\n").find((line) => /^gateway\s+inventory\s/.test(line));
    const [, , rps, success, p50, , p99] = edge?.split(/\s+/) ?? [];
    expect(Number(rps)).toBeGreaterThan(0);
    expect(success).toBe("100.0%");
    expect(p50).toMatch(/^\d+\.\d+ms$/);
    expect(p99).toMatch(/^\d+\.\d+ms$/);
    expect(services.stdout).toMatch(/^inventory\s+[0-9.]*[1-9][0-9.]*\s+100\.0%/m);
  }, 30_000);

  it("shows a failing provider in `mesh stat`: payment -> provider's success rate drops", async () => {
    const provider = mesh.instances.find((each) => each.instance === "provider") as InstanceInfo;
    await provider.restartApp({ PROVIDER_FAILURE_RATE: "1" });
    const drillOrders: string[] = [];
    try {
      const placing = (async () => {
        for (let i = 0; i < 8; i++) {
          const placed = await json("PlaceOrder", orderRequest(`drill-${i}`, "sku-filter", 1));
          drillOrders.push((placed.body.order as { orderId: string }).orderId);
          await sleep(250);
        }
      })();
      const during = await meshCli("stat", "--window", "3");
      await placing;
      const edge = during.stdout.split("\n").find((line) => /^payment\s+provider\s/.test(line));
      const [, , rps, success] = edge?.split(/\s+/) ?? [];
      expect(Number(rps)).toBeGreaterThan(0);
      expect(Number.parseFloat(success ?? "100")).toBeLessThan(100);

      // The order's trace shows payment's sidecar retrying the charge: failed attempts, each retry's reason.
      // A call span and its attempt spans may leave the sidecar in different batches: wait for all of them. The
      // earliest such call is the one to read: a later one may have met the breaker open, which sends no attempt.
      const retriedCharge = (each: TraceView) =>
        each
          .find("payment-sidecar", "client", "shop.payment.v1.PaymentProviderService/Charge")
          .sort((a, b) => a.startTime - b.startTime)
          .find((call) => {
            const children = each.trace.spans.filter((span) => each.parent(span)?.spanID === call.spanID);
            return children.length > 1 && children.length === Number(each.tag(call, "mesh.attempts"));
          });
      const view = await orderTrace(drillOrders[0] as string, (each) => retriedCharge(each) !== undefined);
      const charge = retriedCharge(view) as JaegerSpan;
      const attempts = view.trace.spans.filter((span) => view.parent(span)?.spanID === charge.spanID);
      expect(attempts.length).toBeGreaterThan(1);
      expect(view.tag(charge, "mesh.attempts")).toBe(attempts.length);
      expect(attempts.every((span) => view.tag(span, "rpc.grpc.status_code") === 14)).toBe(true);
      // Attempts after the first say why: UNAVAILABLE from the failing provider (or never_processed, refused).
      const reasons = attempts
        .sort((a, b) => Number(view.tag(a, "mesh.attempt")) - Number(view.tag(b, "mesh.attempt")))
        .map((span) => view.tag(span, "mesh.retry_reason"));
      expect(reasons[0], JSON.stringify(attempts.map((span) => span.tags))).toBeUndefined();
      for (const reason of reasons.slice(1)) expect(["UNAVAILABLE", "never_processed"]).toContain(reason);
      const retries = charge.logs.filter((log) => log.fields.some((field) => field.value === "retry.backoff"));
      expect(retries.length).toBe(attempts.length - 1);
    } finally {
      await provider.restartApp();
    }
  }, 60_000);

  it("loses no idempotent call when one inventory instance is killed under load", async () => {
    const gateway = gatewayGrpc();
    const load = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }));
    await sleep(500);
    const victim = mesh.instances.find((each) => each.instance === "inventory-1");
    victim?.processes[0]?.child.kill("SIGKILL");
    await sleep(4000);
    const { calls, failures, errors } = await load.stop();
    expect({ failures, errors }).toEqual({ failures: 0, errors: [] });
    expect(calls).toBeGreaterThan(40);
  }, 30_000);

  it("answers the mesh CLI: services, calls through reflection, sidecar stats, saga timelines", async () => {
    const mesh_ = meshCli;
    const listed = await mesh_("services");
    expect(listed.stdout).toMatch(/^service\s+instance\s+address\s+health\s+serves/);
    for (const service of ["gateway", "inventory", "order", "payment", "provider"])
      expect(listed.stdout).toContain(`${service} `);
    expect(listed.stdout).toMatch(/inventory\s+inventory-\S+\s+\S+\s+passing\s+shop\.inventory\.v1\.InventoryService/);

    const called = await mesh_(
      "call",
      "shop.inventory.v1.InventoryService/GetStock",
      '{"productIds":["sku-espresso"]}',
      "-H",
      "x-caller: test",
    );
    expect(JSON.parse(called.stdout)).toEqual({ stocks: [{ productId: "sku-espresso", available: "100" }] });

    const stats = await mesh_("stats");
    expect(stats.stdout).toMatch(/gateway-\S+\s+inventory\s+closed/);

    const timeline = await mesh_("saga", confirmedOrderId);
    expect(timeline.stdout).toContain(`order ${confirmedOrderId}: CONFIRMED`);
    expect(timeline.stdout).toContain("shop.payment.completed");

    // Through a sidecar's loopback outbound listener, plaintext, with the :authority naming the service (as grpcurl
    // -plaintext -authority does): the gateway's sidecar carries it over mutual TLS under the gateway's identity.
    const gatewayOutbound = mesh.instances.find((each) => each.service === "gateway")?.outbound as string;
    const viaSidecar = await mesh_(
      "call",
      "shop.inventory.v1.InventoryService/GetStock",
      '{"productIds":["sku-espresso"]}',
      "--to",
      gatewayOutbound,
      "--authority",
      "inventory",
    );
    expect(JSON.parse(viaSidecar.stdout)).toMatchObject({ stocks: [{ productId: "sku-espresso" }] });

    const usage = await mesh_("call");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("call needs <pkg.Service/Method>");
    const unknown = await mesh_("call", "nope.v1.Nothing/Do", "{}");
    expect(unknown.stderr).toMatch(/^mesh: no healthy instance serves nope\.v1\.Nothing; served now: /);
  }, 60_000);

  it("denies by default, allows the shop's call graph, and changes with `mesh intentions`", async () => {
    const listed = await meshCli("intentions");
    expect(listed.stdout).toMatch(/^\*\s+\*\s+deny\s+5\s+deny by default$/m);
    for (const edge of ["gateway\\s+order", "gateway\\s+inventory", "order\\s+inventory", "payment\\s+provider"])
      expect(listed.stdout).toMatch(new RegExp(`^${edge}\\s+allow\\s+9`, "m"));

    const getStock = ["call", "shop.inventory.v1.InventoryService/GetStock", '{"productIds":["sku-mug"]}'];
    const denied = await meshCli(...getStock, "--as", "payment");
    // The CLI's first call is reflection, and that is what the intentions stop.
    expect(denied.stderr).toContain(
      "mesh: [permission_denied] payment may not call /grpc.reflection.v1.ServerReflection/ServerReflectionInfo on inventory: intention * -> * denies it",
    );
    expect((await meshCli("intentions", "check", "payment", "inventory")).stdout).toContain("denied: intention * -> *");
    await meshCli("intentions", "allow", "payment", "inventory");
    try {
      await expect
        .poll(async () => (await meshCli(...getStock, "--as", "payment")).stdout, { timeout: 5000, interval: 200 })
        .toContain("sku-mug");
      // One method denied, the rest of the service still allowed.
      await meshCli(
        "intentions",
        "deny",
        "payment",
        "inventory",
        "--method",
        "/shop.inventory.v1.InventoryService/GetStock",
      );
      await expect
        .poll(async () => (await meshCli(...getStock, "--as", "payment")).stderr, { timeout: 5000, interval: 200 })
        .toContain("permission 1 of intention payment -> inventory denies it");
    } finally {
      await meshCli("intentions", "delete", "payment", "inventory");
    }
    // The sidecar's public port takes no plaintext caller at all.
    const inventory = mesh.instances.find((each) => each.service === "inventory")?.inbound as string;
    const plaintext = await meshCli(...getStock, "--to", inventory);
    expect(plaintext.stderr).toContain("plaintext HTTP/2 on a mutual-TLS port");
  }, 60_000);

  it("restarts an app, a sidecar and NATS in place: no idempotent call fails, orders still complete", async () => {
    const instance = (name: string) => mesh.instances.find((each) => each.instance === name) as InstanceInfo;
    await instance("inventory-1").restartApp(); // killed by the failover test above
    await mesh.waitHealthy(20_000);

    const gateway = gatewayGrpc();
    const load = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: 5000 }));
    await sleep(500);
    const before = instance("inventory-2").processes[1]?.child.pid;
    await instance("inventory-2").restartSidecar();
    await mesh.waitHealthy(20_000);
    expect(instance("inventory-2").processes[1]?.child.pid).not.toBe(before);
    await mesh.restartNats(500);
    const { calls, failures, errors } = await load.stop();
    expect({ failures, errors }).toEqual({ failures: 0, errors: [] });
    expect(calls).toBeGreaterThan(20);

    const placed = await json("PlaceOrder", orderRequest("carol", "sku-mug", 1));
    const orderId = (placed.body.order as { orderId: string }).orderId;
    await expect
      .poll(async () => ((await json("GetOrderView", { orderId })).body.order as { status: string }).status, {
        timeout: 20_000,
        interval: 200,
      })
      .toBe("ORDER_STATUS_CONFIRMED");
  }, 90_000);

  it("keeps the saga invariants, then stops leaving no process behind", async () => {
    const initialStock = new Map(DEMO_PRODUCTS.map((product) => [product.productId, product.available]));
    let report = await checkInvariants(mesh.databaseUrls, initialStock);
    for (let i = 0; i < 60 && report.violations.length; i++) {
      await sleep(250);
      report = await checkInvariants(mesh.databaseUrls, initialStock);
    }
    expect(report.violations).toEqual([]);
    expect(report.orders.confirmed + report.orders.cancelled).toBeGreaterThanOrEqual(2);
    const pids = mesh.pids();
    await mesh.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  }, 60_000);
});
