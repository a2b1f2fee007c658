import { setTimeout as sleep } from "node:timers/promises";
import { Code, type ConnectError } from "@connectrpc/connect";
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
/** Breakers that stay open long enough for a test to look at them. */
let slowProbe: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  const policy = (halfOpenAfterMs: number) => ({
    circuitBreaker: { mode: "consecutive", consecutiveFailures: 3, halfOpenAfterMs },
    retry: { maxAttempts: 1 },
    outlierDetection: { consecutiveFailures: 1000 },
  });
  sidecar = await mesh.sidecar({ upstreams: echoUpstream([app], policy(300)) });
  slowProbe = await mesh.sidecar({ upstreams: echoUpstream([app], policy(600_000)) });
});

async function breakerState() {
  const clusters = await adminJson<ClustersView>(sidecar, "/clusters");
  return clusters.echo?.breaker;
}

const failFast = (error: ConnectError) =>
  error.code === Code.Unavailable && error.rawMessage === "upstream echo: circuit breaker open, failing fast";

describe("circuit breaker", () => {
  it("opens after consecutive failures, fails fast without touching the upstream, then recovers", async () => {
    const echo = echoClient(sidecar.outbound);
    app.forced = { failCode: Code.Unavailable, failMessage: "down" };
    for (let i = 0; i < 3; i++) await echo.echo({}).catch(() => undefined);
    expect(app.received.get("Echo")).toBe(3);
    expect(await breakerState()).toBe("open");

    await expect(echo.echo({})).rejects.toSatisfy(failFast);
    expect(app.received.get("Echo")).toBe(3);
    expect(await (await fetch(`${sidecar.admin}/metrics`)).text()).toContain(
      'mesh_circuit_breaker_state{upstream="echo"} 1',
    );

    app.forced = undefined;
    await sleep(350);
    expect((await echo.echo({ message: "probe" })).message).toBe("probe");
    expect(await breakerState()).toBe("closed");
    expect((await echo.echo({ message: "again" })).message).toBe("again");
  });

  // A refund must get through while charges to the same upstream fail: each method has its own breaker (the default
  // scope), and the upstream reads open while any of them is.
  it("keeps one method's failures from failing another method of the upstream fast", async () => {
    const echo = echoClient(slowProbe.outbound);
    const writesBefore = app.received.get("Write") ?? 0;
    const failing = { failCode: Code.Unavailable, failMessage: "card gateway down" };
    for (let i = 0; i < 3; i++) await echo.write(failing).catch(() => undefined);
    expect(app.received.get("Write")).toBe(writesBefore + 3);
    await expect(echo.write({})).rejects.toSatisfy(failFast);
    expect(app.received.get("Write")).toBe(writesBefore + 3);

    expect((await echo.echo({ message: "refund" })).message).toBe("refund");
    const clusters = await adminJson<ClustersView>(slowProbe, "/clusters");
    expect(clusters.echo).toMatchObject({
      breaker: "open",
      breakers: { "mesh.echo.v1.EchoService/Write": "open", "mesh.echo.v1.EchoService/Echo": "closed" },
    });
    const metrics = await (await fetch(`${slowProbe.admin}/metrics`)).text();
    expect(metrics).toContain('mesh_circuit_breaker_state{upstream="echo"} 1');
    expect(metrics).toContain(
      'mesh_circuit_breaker_method_state{upstream="echo",method="mesh.echo.v1.EchoService/Write"} 1',
    );
    expect(metrics).toContain(
      'mesh_circuit_breaker_method_state{upstream="echo",method="mesh.echo.v1.EchoService/Echo"} 0',
    );
  });
});
