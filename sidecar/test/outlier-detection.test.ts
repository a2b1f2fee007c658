import { Code } from "@connectrpc/connect";
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

let servers: EchoServer[];
let sidecar: TestSidecar;

useEchoMesh(async (mesh) => {
  servers = await mesh.apps(2);
  sidecar = await mesh.sidecar({
    upstreams: echoUpstream(servers, {
      outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionPercent: 50 },
      circuitBreaker: { mode: "consecutive", consecutiveFailures: 1000 },
      retry: { maxAttempts: 1 },
      // Outlier ejection alone: the latency-aware balancer would also steer away from the failing endpoint.
      loadBalancer: { policy: "least-outstanding" },
    }),
  });
});

describe("outlier ejection", () => {
  it("ejects an endpoint that keeps failing, sends the traffic elsewhere, and never ejects more than allowed", async () => {
    const [bad, good] = servers as [EchoServer, EchoServer];
    bad.forced = { failCode: Code.Unavailable, failMessage: "sick" };
    const echo = echoClient(sidecar.outbound);
    for (let i = 0; i < 40 && (bad.received.get("Write") ?? 0) < 3; i++) await echo.write({}).catch(() => undefined);
    expect(bad.received.get("Write")).toBe(3);

    const clusters = await adminJson<ClustersView>(sidecar, "/clusters");
    const byAddress = Object.fromEntries((clusters.echo?.endpoints ?? []).map((e) => [e.address, e]));
    expect(byAddress[bad.address]).toMatchObject({ ejected: true, ejections: 1 });
    expect(byAddress[good.address]).toMatchObject({ ejected: false });

    for (let i = 0; i < 20; i++) expect((await echo.write({})).servedBy).toBe("b");
    expect(bad.received.get("Write")).toBe(3);

    // The last healthy endpoint failing too cannot be ejected: 2 of 2 would exceed 50%.
    good.forced = { failCode: Code.Unavailable, failMessage: "sick too" };
    for (let i = 0; i < 5; i++) await echo.write({}).catch(() => undefined);
    const after = await adminJson<ClustersView>(sidecar, "/clusters");
    expect(after.echo?.endpoints.filter((e) => e.ejected)).toHaveLength(1);
    expect(await (await fetch(`${sidecar.admin}/metrics`)).text()).toContain(
      `mesh_outlier_ejections_total{upstream="echo",endpoint="${bad.address}"} 1`,
    );
  });
});
