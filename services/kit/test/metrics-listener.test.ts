import { Counter, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type RunningService, startService } from "../src/index.ts";
import { serveMetrics } from "../src/runtime/metrics-server.ts";
import { createTestDatabase } from "../src/testing/index.ts";
import { log } from "./event-harness.ts";

// The service metrics (contract F): served in the Prometheus text format at GET /metrics on METRICS_LISTEN, with
// the service, against a real PostgreSQL and a real nats-server.

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase(inject("databaseUrls").order, "kit_metrics");
});

afterAll(async () => {
  await database?.drop();
});

function startMetricsService(metricsListen: string): Promise<RunningService> {
  return startService({
    name: "metrics-test",
    databaseUrl: database.url,
    natsUrl: inject("natsUrl"),
    grpc: { host: "127.0.0.1", port: 0 },
    entities: [],
    migrations: [],
    log,
    services: () => [],
    consumers: () => [
      {
        name: "metrics-test-consumer",
        subject: "shop.metricstest.happened",
        handler: async () => {},
        mustComplete: true,
      },
    ],
    metricsListen,
  });
}

describe("metrics listener", () => {
  it("serves a registry at GET /metrics only, and says clearly when its address is taken", async () => {
    const registry = new Registry();
    new Counter({ name: "kit_test_total", help: "A counter of the test", registers: [registry] }).inc(3);
    const server = await serveMetrics(registry, "127.0.0.1:0");
    try {
      const scraped = await fetch(`http://${server.address}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get("content-type")).toBe(registry.contentType);
      expect(await scraped.text()).toContain("kit_test_total 3");
      expect((await fetch(`http://${server.address}/`)).status).toBe(404);
      await expect(serveMetrics(registry, server.address)).rejects.toThrow(
        `cannot serve metrics on ${server.address} (METRICS_LISTEN): the address is taken`,
      );
    } finally {
      await server.close();
    }
  });

  it("serves a service's metrics, its consumers' among them, while it runs", async () => {
    const service = await startMetricsService("127.0.0.1:0");
    const address = service.metricsAddress;
    try {
      const text = await (await fetch(`http://${address}/metrics`)).text();
      for (const name of ["mesh_events_retrying", "mesh_events_retries_total", "mesh_events_dead_lettered_total"])
        expect(text).toContain(`${name}{consumer="metrics-test-consumer"} 0`);
      expect(text).toContain('mesh_events_oldest_retry_age_seconds{consumer="metrics-test-consumer"} 0');
      expect(service.context.metrics.getSingleMetric("mesh_events_retrying")).toBeDefined();
      // A second instance on the same address fails to start, naming the address, before opening anything else.
      await expect(startMetricsService(address ?? "")).rejects.toThrow(/METRICS_LISTEN\): the address is taken/);
    } finally {
      await service.stop();
    }
    await expect(fetch(`http://${address}/metrics`)).rejects.toThrow();
  });
});
