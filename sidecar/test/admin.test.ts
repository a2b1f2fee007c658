import { describe, expect, it } from "vitest";
import {
  adminJson,
  type ClustersView,
  type EchoServer,
  echoClient,
  echoUpstream,
  type TestSidecar,
  useEchoMesh,
} from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  sidecar = await mesh.sidecar({
    inbound: { listen: "127.0.0.1:0", app: app.address },
    upstreams: echoUpstream([app]),
  });
});

const get = (path: string) => fetch(`${sidecar.admin}${path}`);

describe("admin endpoints", () => {
  it("reports liveness, and readiness from the app's own gRPC health", async () => {
    expect((await get("/healthz")).status).toBe(200);
    const ready = await get("/readyz");
    expect([ready.status, (await ready.text()).trim()]).toEqual([200, "ready"]);
    app.health.set("", 2 /* NOT_SERVING */);
    const notReady = await get("/readyz");
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain("NOT_SERVING");
    app.health.set("", 1 /* SERVING */);
    expect((await get("/readyz")).status).toBe(200);
  });

  it("exposes Prometheus metrics labelled by upstream, method and status", async () => {
    await echoClient(sidecar.outbound).echo({});
    await echoClient(sidecar.outbound)
      .echo({ failCode: 5 })
      .catch(() => undefined);
    const metrics = await (await get("/metrics")).text();
    expect(metrics).toContain('mesh_requests_total{direction="outbound",upstream="echo",method="Echo",code="0"} 1');
    expect(metrics).toContain('mesh_requests_total{direction="outbound",upstream="echo",method="Echo",code="5"} 1');
    expect(metrics).toMatch(
      /mesh_request_duration_seconds_bucket\{le="0\.005",direction="outbound",upstream="echo",method="Echo"\}/,
    );
    expect(metrics).toContain('mesh_circuit_breaker_state{upstream="echo"} 0');
    // A later scrape counts on: the per-route counters are read afresh every time.
    await echoClient(sidecar.outbound).echo({});
    const again = await (await get("/metrics")).text();
    expect(again).toContain('mesh_requests_total{direction="outbound",upstream="echo",method="Echo",code="0"} 2');
    expect(again).toMatch(
      /mesh_request_duration_seconds_count\{direction="outbound",upstream="echo",method="Echo"\} 3/,
    );
  });

  it("shows clusters and the effective config", async () => {
    const clusters = await adminJson<ClustersView>(sidecar, "/clusters");
    expect(clusters.echo).toMatchObject({ breaker: "closed", endpoints: [{ address: app.address, ejected: false }] });
    const config = await adminJson<{ defaults: { retry: unknown } }>(sidecar, "/config");
    expect(config.defaults.retry).toEqual({
      maxAttempts: 3,
      retryOn: ["UNAVAILABLE"],
      initialBackoffMs: 25,
      maxBackoffMs: 250,
      perTryTimeoutMs: 0,
    });
    expect((await get("/nope")).status).toBe(404);
  });
});
