import { request } from "node:http";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JaegerTrace } from "./api/jaeger.ts";
import { startDashboard } from "./dashboard.ts";
import { StatusSchema } from "./gen/google/rpc/status_pb.ts";
import { ExportTraceServiceResponseSchema } from "./gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { MeshSnapshot } from "./mesh/scraper.ts";
import type { SagaSnapshot } from "./sagas/saga-watch.ts";
import type { StoreStats } from "./store/trace-store.ts";
import { orderSagaTrace, otlpProtobuf } from "./testing/synthetic.ts";
import { type SyntheticMesh, startSyntheticMesh } from "./testing/synthetic-mesh.ts";

type ListBody = {
  data: JaegerTrace[];
  total: number;
  limit: number;
  offset: number;
  errors: { code: number; msg: string }[] | null;
};
type MeshBody = MeshSnapshot & { traces: StoreStats };
const list = async (response: Response | Promise<Response>) => (await (await response).json()) as ListBody;

let mesh: SyntheticMesh;
let base: string;

beforeAll(async () => {
  mesh = await startSyntheticMesh({ scrapeIntervalMs: 300 });
  base = mesh.dashboard.otlpEndpoint;
});
afterAll(() => mesh?.stop());

const post = (body: string | Uint8Array, contentType: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/traces`, { method: "POST", body, headers: { "content-type": contentType, ...headers } });

/** A chunked POST that keeps sending: the receiver must answer 413 without reading it all. */
function streamedPost(total: number): Promise<{ status: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    const req = request(`${base}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" } });
    req.on("response", (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, sent });
      req.destroy();
    });
    req.on("error", (error) => (sent >= total ? reject(error) : undefined));
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

describe("OTLP/HTTP receiver", () => {
  it("takes protobuf and JSON exports and answers in the same encoding", async () => {
    const spans = orderSagaTrace("order-recv", Date.now());
    const protobuf = await post(otlpProtobuf(spans), "application/x-protobuf");
    expect(protobuf.status).toBe(200);
    expect(protobuf.headers.get("content-type")).toBe("application/x-protobuf");
    expect(
      fromBinary(ExportTraceServiceResponseSchema, new Uint8Array(await protobuf.arrayBuffer())).partialSuccess,
    ).toBeUndefined();
    const json = await post(JSON.stringify({ resourceSpans: [] }), "application/json");
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});
    const trace = await list(fetch(`${base}/api/traces/${spans[0]?.traceId}`));
    expect(trace.data[0]?.spans).toHaveLength(spans.length);
  });

  it("answers 400, 413 and 415 and keeps serving", async () => {
    const malformed = await post("{not json", "application/json");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/not JSON/);
    const garbage = await post(new Uint8Array([0x0a, 0xff, 0xff]), "application/x-protobuf");
    expect(garbage.status).toBe(400);
    expect(fromBinary(StatusSchema, new Uint8Array(await garbage.arrayBuffer())).code).toBe(3);
    expect((await post("x", "text/plain")).status).toBe(415);
    expect((await post("x", "application/json", { "content-encoding": "br" })).status).toBe(400);
    const declared = await post(new Uint8Array(9 * 1024 * 1024), "application/x-protobuf");
    expect(declared.status).toBe(413);
    const streamed = await streamedPost(64 * 1024 * 1024);
    expect(streamed.status).toBe(413);
    expect(streamed.sent).toBeLessThan(64 * 1024 * 1024);
    // still serving
    expect((await post(JSON.stringify({}), "application/json")).status).toBe(200);
    expect((await fetch(`${base}/api/services`)).status).toBe(200);
  });

  it("applies a configured body limit", async () => {
    const small = await startDashboard({ port: 0, bodyLimit: 100, consulAddr: mesh.consul.address });
    try {
      const response = await fetch(`${small.otlpEndpoint}/v1/traces`, {
        method: "POST",
        body: otlpProtobuf(orderSagaTrace("o", Date.now())),
        headers: { "content-type": "application/x-protobuf" },
      });
      expect(response.status).toBe(413);
    } finally {
      await small.stop();
    }
  });
});

describe("Jaeger query API", () => {
  it("lists services", async () => {
    const body = (await (await fetch(`${base}/api/services`)).json()) as { data: string[] };
    expect(body.data).toEqual(
      expect.arrayContaining(["gateway", "gateway-sidecar", "order", "order-sidecar", "inventory", "payment"]),
    );
  });

  it("searches by order id, service and lookback, newest first", async () => {
    const tags = encodeURIComponent(JSON.stringify({ "shop.order_id": mesh.orderIds[0] }));
    const byOrder = await list(fetch(`${base}/api/traces?tags=${tags}&limit=5&lookback=1h`));
    expect(byOrder).toMatchObject({ total: 1, limit: 0, offset: 0, errors: null });
    const trace = byOrder.data[0] as JaegerTrace;
    expect(trace.spans).toHaveLength(12);
    expect(
      Object.values(trace.processes)
        .map((p) => (p as { serviceName: string }).serviceName)
        .sort(),
    ).toEqual(["gateway", "gateway-sidecar", "inventory", "order", "order-sidecar", "payment"]);
    const all = await list(fetch(`${base}/api/traces?service=order&limit=20`));
    expect(all.total).toBeGreaterThanOrEqual(2);
    const starts = all.data.map((t: { spans: { startTime: number }[] }) =>
      Math.min(...t.spans.map((s) => s.startTime)),
    );
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    const later = await list(fetch(`${base}/api/traces?start=${(Date.now() + 600_000) * 1000}`));
    expect(later.total).toBe(0);
  });

  it("answers 404 for an unknown trace and 400 for bad parameters", async () => {
    const missing = await fetch(`${base}/api/traces/${"ab".repeat(16)}`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ data: [], errors: [{ code: 404, msg: "trace not found" }] });
    const bad = await fetch(`${base}/api/traces?tags=nope`);
    expect(bad.status).toBe(400);
    expect((await list(bad)).errors?.[0]?.msg).toMatch(/tags/);
  });
});

describe("mesh view", () => {
  it("shows one reachable and one unreachable sidecar, edges with golden metrics, and the store's numbers", async () => {
    let view: MeshBody;
    const deadline = Date.now() + 10_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 300));
      view = (await (await fetch(`${base}/api/mesh`)).json()) as MeshBody;
    } while ((view.edges.length < 2 || view.scrapes < 3) && Date.now() < deadline);
    expect(view.consul.error).toBeNull();
    expect(view.services.map((s) => s.name)).toEqual(["inventory", "order", "payment"]);
    const byId = Object.fromEntries(view.instances.map((i) => [i.id, i]));
    expect(byId["order-1"]).toMatchObject({
      reachable: true,
      health: "passing",
      breakers: { inventory: "closed", payment: "half_open" },
      ejectedEndpoints: 1,
    });
    expect(byId["payment-1"]).toMatchObject({ reachable: false, adminPort: mesh.deadPort });
    expect(byId["payment-1"]?.error).toMatch(/did not answer/);
    const edge = (to: string) => view.edges.find((e) => e.from === "order" && e.to === to);
    expect(edge("inventory")).toMatchObject({ success: 1, failing: false, breaker: "closed" });
    expect(edge("inventory")?.rps).toBeGreaterThan(0);
    expect(edge("inventory")?.p99).toBeGreaterThan(2.5);
    expect(edge("payment")).toMatchObject({ success: 0.8, failing: true, breaker: "half_open" });
    expect(view.rate.length).toBeGreaterThanOrEqual(2);
    expect(view.traces).toMatchObject({ capacity: 2000, dropped: 0 });
    expect(view.traces.kept).toBeGreaterThanOrEqual(2);
  });

  it("says so when Consul does not answer, and still serves the page", async () => {
    const lonely = await startDashboard({ port: 0, consulAddr: `127.0.0.1:${mesh.deadPort}`, scrapeIntervalMs: 200 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const view = (await (await fetch(`${lonely.otlpEndpoint}/api/mesh`)).json()) as MeshBody;
      expect(view.consul.error).toMatch(/cannot read the catalog/);
      expect(view.services).toEqual([]);
      const page = await fetch(lonely.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="graph"');
      expect((await fetch(`${lonely.otlpEndpoint}/vendor/uPlot.mjs`)).status).toBe(200);
      expect((await fetch(`${lonely.otlpEndpoint}/vendor/../../package.json`)).status).toBe(404);
    } finally {
      await lonely.stop();
    }
  });
});

describe("sagas view", () => {
  const sagasOf = async (dashboard: string) => (await (await fetch(`${dashboard}/api/sagas`)).json()) as SagaSnapshot;
  /** The view once the dashboard has polled. */
  const polled = async (dashboard: string) => {
    const deadline = Date.now() + 10_000;
    let view = await sagasOf(dashboard);
    while (view.polledAt === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      view = await sagasOf(dashboard);
    }
    return view;
  };

  it("counts dead letters per consumer, lists the newest with their orders, and the stuck sagas", async () => {
    const view = await polled(base);
    expect(view.deadLetters).toMatchObject({
      error: null,
      total: 3,
      byConsumer: [
        { consumer: "payment-order-cancelled", count: 2 },
        { consumer: "inventory-order-cancelled", count: 1 },
      ],
    });
    expect(view.deadLetters.recent.map((letter) => [letter.consumer, letter.orderId])).toEqual(
      [...mesh.deadLetters].reverse().map((letter) => [letter.consumer, letter.orderId]),
    );
    expect(view.deadLetters.recent[0]).toMatchObject({
      subject: "shop.order.cancelled",
      type: "shop.events.v1.OrderCancelled",
      eventId: "evt-2",
      reason: "card expired",
      deliveries: 5,
    });
    expect(view.stuckSagas.error).toBeNull();
    expect(view.stuckSagas.orders).toEqual([
      {
        orderId: "order-9c44",
        status: "CANCELLING",
        sagaDeadline: null,
        waitingFor: "payment: refund",
        stuckForSeconds: 420,
      },
      {
        orderId: "order-a101",
        status: "PENDING",
        sagaDeadline: null,
        waitingFor: "inventory: reservation",
        stuckForSeconds: 75,
      },
    ]);
  });

  it("says why when NATS or the order service cannot be reached", async () => {
    const lonely = await startDashboard({
      port: 0,
      consulAddr: `127.0.0.1:${mesh.deadPort}`,
      natsUrl: `nats://127.0.0.1:${mesh.deadPort}`,
      scrapeIntervalMs: 200,
    });
    try {
      const view = await polled(lonely.otlpEndpoint);
      expect(view.deadLetters.error).toBe(`cannot reach NATS at nats://127.0.0.1:${mesh.deadPort}: connection refused`);
      expect(view.stuckSagas.error).toMatch(
        /^shop\.order\.v1\.OrderService from Consul, as mesh-dashboard: cannot read the catalog from Consul at /,
      );
    } finally {
      await lonely.stop();
    }
    const withoutNats = await startDashboard({ port: 0, consulAddr: mesh.consul.address });
    try {
      expect((await polled(withoutNats.otlpEndpoint)).deadLetters).toMatchObject({
        nats: null,
        error: null,
        total: 0,
      });
    } finally {
      await withoutNats.stop();
    }
  });
});
