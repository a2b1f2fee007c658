import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let outbound: TestSidecar;
let inbound: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  inbound = await mesh.sidecar({
    inbound: { listen: "127.0.0.1:0", app: app.address, maxConcurrent: 3, maxQueue: 0 },
  });
  outbound = await mesh.sidecar({
    upstreams: echoUpstream([app], { bulkhead: { maxConcurrent: 2, maxQueue: 1 } }),
  });
});

async function settle(calls: Promise<unknown>[]) {
  const results = await Promise.allSettled(calls);
  const rejected = results
    .filter((result) => result.status === "rejected")
    .map((result) => ConnectError.from(result.reason));
  return { ok: results.length - rejected.length, rejected };
}

describe("bulkheads", () => {
  it("lets at most maxConcurrent calls (plus the queue, in turn) reach an upstream and refuses the rest at once", async () => {
    const echo = echoClient(outbound.outbound);
    const before = app.received.get("Echo") ?? 0;
    const { ok, rejected } = await settle(Array.from({ length: 8 }, () => echo.echo({ delayMs: 300 })));
    expect(ok).toBe(3);
    expect(rejected).toHaveLength(5);
    for (const error of rejected) {
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toBe("upstream echo: too many concurrent calls (bulkhead: 2 in flight and 1 queued)");
    }
    expect((app.received.get("Echo") ?? 0) - before).toBe(3);
  });

  it("protects the app behind the inbound listener with its concurrency limit", async () => {
    const echo = echoClient(inbound.inbound);
    const { ok, rejected } = await settle(Array.from({ length: 6 }, () => echo.echo({ delayMs: 300 })));
    expect(ok).toBe(3);
    expect(rejected.map((error) => error.code)).toEqual([
      Code.ResourceExhausted,
      Code.ResourceExhausted,
      Code.ResourceExhausted,
    ]);
    expect(rejected[0]?.rawMessage).toContain("concurrency limit");
  });
});
