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

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  sidecar = await mesh.sidecar({
    upstreams: echoUpstream([app], {
      circuitBreaker: { mode: "consecutive", consecutiveFailures: 3, halfOpenAfterMs: 300 },
      retry: { maxAttempts: 1 },
      outlierDetection: { consecutiveFailures: 1000 },
    }),
  });
});

async function breakerState() {
  const clusters = await adminJson<ClustersView>(sidecar, "/clusters");
  return clusters.echo?.breaker;
}

describe("circuit breaker", () => {
  it("opens after consecutive failures, fails fast without touching the upstream, then recovers", async () => {
    const echo = echoClient(sidecar.outbound);
    app.forced = { failCode: Code.Unavailable, failMessage: "down" };
    for (let i = 0; i < 3; i++) await echo.echo({}).catch(() => undefined);
    expect(app.received.get("Echo")).toBe(3);
    expect(await breakerState()).toBe("open");

    const fastFailure = echo.echo({});
    await expect(fastFailure).rejects.toSatisfy(
      (error: ConnectError) =>
        error.code === Code.Unavailable && error.rawMessage === "upstream echo: circuit breaker open, failing fast",
    );
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
});
