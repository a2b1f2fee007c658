import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDashboardPage } from "./page-check.ts";
import { type SyntheticMesh, startSyntheticMesh } from "./testing/synthetic-mesh.ts";

const CHROMIUM = "/usr/bin/chromium";

// Debian's chromium, which the test command's setup installs.
describe("dashboard page in headless Chromium", () => {
  let mesh: SyntheticMesh;
  beforeAll(async () => {
    mesh = await startSyntheticMesh();
  });
  afterAll(() => mesh?.stop());

  it("shows every service, finds an order's trace with a waterfall and saga, keeps updating, and shows dead letters and stuck sagas", async () => {
    const dir = process.env.DASHBOARD_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), "dashboard-shots-")));
    const screenshots = { overview: join(dir, "overview.png"), trace: join(dir, "trace.png") };
    const result = await checkDashboardPage({
      url: mesh.dashboard.url,
      orderId: mesh.orderIds[1] as string,
      services: ["order", "inventory", "payment"],
      minSagaSteps: 6,
      deadLetters: { "payment-order-cancelled": 2, "inventory-order-cancelled": 1 },
      deadLetterOrderId: mesh.orderIds[0] as string,
      stuckSagas: mesh.stuckSagas,
      screenshots,
      chromiumPath: CHROMIUM,
    });
    expect(result.services).toEqual(["inventory", "order", "payment"]);
    expect(result.waterfallRows).toBe(12);
    expect(result.sagaSteps).toBe(6);
    expect(result.refreshes.last).toBeGreaterThan(result.refreshes.first);
    expect(result.updatedAt.last).not.toBe(result.updatedAt.first);
    expect(result.ratePoints).toBeGreaterThanOrEqual(2);
    expect(result.deadLetters).toEqual({ "payment-order-cancelled": 2, "inventory-order-cancelled": 1 });
    expect(result.stuckSagas).toEqual({ "order-9c44": "payment: refund", "order-a101": "inventory: reservation" });
    // The first order's dead letter opens its own trace, not the one searched before.
    expect(result.linkedTraceId).toMatch(/^[0-9a-f]{32}$/);
    expect(result.linkedTraceId).not.toBe(result.traceId);
    for (const path of Object.values(screenshots)) expect((await stat(path)).size).toBeGreaterThan(10_000);
  }, 90_000);

  it("fails naming what is missing", async () => {
    await expect(
      checkDashboardPage({
        url: mesh.dashboard.url,
        orderId: "no-such-order",
        services: ["order", "ghost"],
        timeoutMs: 3000,
      }),
    ).rejects.toThrow(/graph does not show every service of order, ghost/);
  }, 60_000);
});
