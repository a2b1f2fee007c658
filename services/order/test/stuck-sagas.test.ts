import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningNatsServer, startNatsServer } from "@mesh/embedded";
import type { RunningService } from "@mesh/kit";
import { createTestDatabase } from "@mesh/kit/testing";
import { OrderService, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { startOrder } from "../src/index.ts";

// The order service alone, on its own database and a private nats-server, with orders written straight into its
// table: what it reports as stuck, and how a cancel is taken at the edge. No inventory or payment runs, and the
// deadline sweeper never fires, so every order stays as written.
const SAGA_TIMEOUT_MS = 5000;
const GRACE_MS = 60_000;

let nats: RunningNatsServer;
let natsDir: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let order: RunningService;
let client: ReturnType<typeof createClient<typeof OrderService>>;

async function sql<T = unknown>(text: string, params: unknown[] = []): Promise<T[]> {
  const connection = new pg.Client({ connectionString: database.url });
  await connection.connect();
  try {
    return (await connection.query(text, params)).rows as T[];
  } finally {
    await connection.end();
  }
}

interface Written {
  status: string;
  /** The saga deadline, relative to the database's now. */
  deadline: string;
  stockReserved?: boolean;
  stockSettled?: boolean;
  paymentSettled?: boolean;
}

async function writeOrder(row: Written): Promise<string> {
  const orderId = randomUUID();
  await sql(
    `insert into "orders" ("order_id", "request_id", "customer_id", "lines", "total_minor", "currency", "status",
      "cancel_reason", "card_token", "card_last4", "stock_reserved", "stock_settled", "payment_settled",
      "saga_deadline", "created_at", "updated_at")
     values ($1, $2, 'alice', '[{"productId":"sku-mug","quantity":1,"unitPriceMinor":899}]', 899, 'USD', $3, '', '',
      '4242', $4, $5, $6, now() + $7::interval, now(), now())`,
    [
      orderId,
      randomUUID(),
      row.status,
      row.stockReserved ?? false,
      row.stockSettled ?? false,
      row.paymentSettled ?? false,
      row.deadline,
    ],
  );
  return orderId;
}

beforeAll(async () => {
  natsDir = await mkdtemp(join(tmpdir(), "order-stuck-"));
  nats = await startNatsServer({ dataDir: natsDir });
  database = await createTestDatabase(inject("databaseUrls").order, "order_stuck");
  order = await startOrder({
    databaseUrl: database.url,
    natsUrl: nats.url,
    grpc: { host: "127.0.0.1", port: 0 },
    sidecarOutbound: "127.0.0.1:1", // never called: no order is priced here
    sagaTimeoutMs: SAGA_TIMEOUT_MS,
    sagaStuckGraceMs: GRACE_MS,
    sweepIntervalMs: 3_600_000,
    log: pino({ level: "silent" }),
  });
  client = createClient(OrderService, createGrpcTransport({ baseUrl: `http://${order.server.address}` }));
});

afterAll(async () => {
  await order?.stop(100);
  await nats?.stop();
  await database?.drop();
  await rm(natsDir, { recursive: true, force: true });
});

describe("stuck sagas", () => {
  it("lists the unfinished sagas past their deadline plus the grace period, by the database's clock", async () => {
    const pending = await writeOrder({ status: "PENDING", deadline: "-3 minutes", stockReserved: true });
    const refundDue = await writeOrder({
      status: "CANCELLING",
      deadline: "-2 minutes",
      stockReserved: true,
      stockSettled: true,
    });
    await writeOrder({ status: "CANCELLING", deadline: "-30 seconds" }); // within the grace period
    await writeOrder({ status: "CONFIRMED", deadline: "-10 minutes" });
    await writeOrder({ status: "CANCELLED", deadline: "-10 minutes" });
    // A service clock an hour ahead would make every order look stuck: the database's clock decides.
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(vi.getRealSystemTime() + 3_600_000);
    try {
      const { orders } = await client.listStuckOrders({});
      expect(orders.map(({ orderId, status, waitingFor }) => ({ orderId, status, waitingFor }))).toEqual([
        { orderId: pending, status: OrderStatus.PENDING, waitingFor: "payment: charge" },
        { orderId: refundDue, status: OrderStatus.CANCELLING, waitingFor: "payment: refund" },
      ]);
      const [first, second] = orders;
      expect(Number(first?.stuckForSeconds)).toBeGreaterThanOrEqual(180);
      expect(Number(first?.stuckForSeconds)).toBeLessThan(240);
      expect(Number(second?.stuckForSeconds)).toBeGreaterThanOrEqual(120);
      expect(timestampDate(first?.sagaDeadline as Timestamp).getTime()).toBeLessThan(
        timestampDate(second?.sagaDeadline as Timestamp).getTime(),
      );
      expect((await client.listStuckOrders({ pageSize: 1 })).orders.map((stuck) => stuck.orderId)).toEqual([pending]);
      const metrics = await order.context.metrics.metrics();
      expect(metrics).toMatch(/^mesh_sagas_stuck 2$/m);
    } finally {
      vi.useRealTimers();
    }
    await expect(client.listStuckOrders({ pageSize: 101 })).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === "page_size must be 0-100, got 101",
    );
  });

  it("gives a cancel a deadline of its own: a confirmed order cancelled long after its saga is not stuck", async () => {
    const orderId = await writeOrder({ status: "CONFIRMED", deadline: "-1 day", stockReserved: true });
    const { order: cancelling } = await client.cancelOrder({ orderId, reason: "changed my mind" });
    expect(cancelling?.status).toBe(OrderStatus.CANCELLING);
    const [{ now }] = (await sql<{ now: Date }>("select now()")) as [{ now: Date }];
    const deadline = timestampDate(cancelling?.sagaDeadline as Timestamp).getTime();
    expect(Math.abs(deadline - (now.getTime() + SAGA_TIMEOUT_MS))).toBeLessThan(2000);
    const { orders } = await client.listStuckOrders({});
    expect(orders.map((stuck) => stuck.orderId)).not.toContain(orderId);
  });
});

describe("the edge of CancelOrder", () => {
  it("refuses a reason longer than 500 characters, or with control characters, and changes nothing", async () => {
    const orderId = await writeOrder({ status: "CONFIRMED", deadline: "+1 minute", stockReserved: true });
    await expect(client.cancelOrder({ orderId, reason: "x".repeat(501) })).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === "reason is longer than 500 characters (501)",
    );
    await expect(client.cancelOrder({ orderId, reason: "nul\u0000" })).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage === "reason must not contain control characters",
    );
    expect((await client.getOrder({ orderId })).order?.status).toBe(OrderStatus.CONFIRMED);
    const { order: cancelling } = await client.cancelOrder({ orderId, reason: "x".repeat(500) });
    expect(cancelling?.cancelReason).toHaveLength(500);
  });
});
