import { setTimeout as sleep } from "node:timers/promises";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminJson,
  type ClustersView,
  type EchoServer,
  echoClient,
  echoUpstream,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

beforeAll(async () => {
  [app] = (await startEchoServers(1)) as [EchoServer];
  sidecar = await startTestSidecar({
    upstreams: echoUpstream([app], {
      circuitBreaker: { mode: "consecutive", consecutiveFailures: 3, halfOpenAfterMs: 300 },
      retry: { maxAttempts: 1 },
      outlierDetection: { consecutiveFailures: 1000 },
    }),
  });
});

afterAll(async () => {
  await sidecar.close();
  await app.shutdown(100);
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
