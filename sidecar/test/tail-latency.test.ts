import { Code, type ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
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

// A hung instance beside a healthy one: per-try timeouts and hedging must take calls around it, and must never send
// a method with side effects twice.
let servers: EchoServer[] = [];
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close();
  for (const server of servers) server.forced = undefined;
  await Promise.all(servers.map((server) => server.shutdown(100)));
  servers = [];
  sidecar = undefined;
});

const received = (server: EchoServer, method: string) => server.received.get(method) ?? 0;
const cancelled = (server: EchoServer, method: string) => server.cancelled.get(method) ?? 0;
/** One hung and one healthy instance; round-robin-free balancing still sends the hung one some first attempts. */
async function hungAndHealthy(policy: Record<string, unknown>) {
  servers = await startEchoServers(2);
  const [hung, healthy] = servers as [EchoServer, EchoServer];
  hung.forced = { delayMs: 10_000 };
  sidecar = await startTestSidecar({
    upstreams: echoUpstream([hung, healthy], { loadBalancer: { policy: "least-outstanding" }, ...policy }),
  });
  return { hung, healthy, echo: echoClient(sidecar.outbound) };
}

describe("per-try timeouts", () => {
  it("cancel an attempt at a hung endpoint and retry an idempotent call elsewhere, within the caller's deadline", async () => {
    const { hung, healthy, echo } = await hungAndHealthy({ retry: { perTryTimeoutMs: 100 } });
    const started = performance.now();
    for (let i = 0; i < 10; i++) {
      const reply = await echo.echo({ message: "x" }, { timeoutMs: 1000 });
      expect(reply.servedBy).toBe("b");
    }
    expect(received(hung, "Echo")).toBeGreaterThan(0);
    // Each call to the hung instance was cancelled upstream (RST_STREAM CANCEL) after 100 ms.
    await expect.poll(() => cancelled(hung, "Echo")).toBe(received(hung, "Echo"));
    expect(performance.now() - started).toBeLessThan(10 * 100 + 2000);
    expect(received(healthy, "Echo")).toBe(10);
  });

  it("count against the hung endpoint: outlier detection ejects it", async () => {
    const { hung, echo } = await hungAndHealthy({
      retry: { perTryTimeoutMs: 50 },
      outlierDetection: { consecutiveFailures: 2, maxEjectionPercent: 50 },
    });
    for (let i = 0; i < 20 && received(hung, "Echo") < 2; i++) await echo.echo({ message: "x" }, { timeoutMs: 1000 });
    const clusters = await adminJson<ClustersView>(sidecar as TestSidecar, "/clusters");
    const byAddress = Object.fromEntries(clusters.echo?.endpoints.map((e) => [e.address, e]) ?? []);
    expect(byAddress[hung.address]).toMatchObject({ ejected: true });
  });

  it("never cut short an attempt nothing could follow: a method with side effects runs once, to its deadline", async () => {
    const { hung, healthy, echo } = await hungAndHealthy({ retry: { perTryTimeoutMs: 100 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      await echo.write({ message: "charge" }, { timeoutMs: 600 }).then(
        (reply) => outcomes.push(reply.servedBy),
        (error: ConnectError) =>
          outcomes.push(`${Code[error.code]} after ${Math.round(performance.now() - started)} ms`),
      );
    }
    expect(received(hung, "Write") + received(healthy, "Write")).toBe(6);
    const failures = outcomes.filter((each) => each.startsWith("DeadlineExceeded"));
    expect(failures.length).toBe(received(hung, "Write"));
    for (const failure of failures) expect(Number(/after (\d+)/.exec(failure)?.[1])).toBeGreaterThanOrEqual(550);
  });

  it("let the last attempt of an idempotent call run to the deadline: a slow answer still beats a failure", async () => {
    servers = await startEchoServers(2);
    for (const server of servers) server.forced = { delayMs: 400 };
    sidecar = await startTestSidecar({
      upstreams: echoUpstream(servers, { retry: { perTryTimeoutMs: 100, maxAttempts: 2 } }),
    });
    // Both instances are slow (say their database restarts): the first attempt is cut, the second waits.
    const reply = await echoClient(sidecar.outbound).echo({ message: "x" }, { timeoutMs: 2000 });
    expect(["a", "b"]).toContain(reply.servedBy);
    expect(servers.reduce((sum, server) => sum + received(server, "Echo"), 0)).toBe(2);
  });
});

describe("hedging", () => {
  it("sends a NO_SIDE_EFFECTS call to another endpoint after the delay; the first answer wins, the other is cancelled", async () => {
    const { hung, healthy, echo } = await hungAndHealthy({ hedging: { delayMs: 50, maxAttempts: 2 } });
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const reply = await echo.echo({ message: "x" }, { timeoutMs: 5000 });
      expect(reply.servedBy).toBe("b");
      expect(performance.now() - started).toBeLessThan(1000);
    }
    expect(received(hung, "Echo")).toBeGreaterThan(0);
    await expect.poll(() => cancelled(hung, "Echo")).toBe(received(hung, "Echo"));
    expect(received(healthy, "Echo")).toBe(10);
    const metrics = await (await fetch(`${(sidecar as TestSidecar).admin}/metrics`)).text();
    expect(metrics).toMatch(/mesh_retries_total\{upstream="echo",method="Echo",reason="hedge"\} [1-9]/);
  });

  it("follows the observed latency when the delay is a percentile", async () => {
    const { hung, echo } = await hungAndHealthy({ hedging: { delayPercentile: 90, maxAttempts: 2 } });
    hung.forced = undefined;
    // Twenty quick calls teach the route its latency; then one instance hangs.
    for (let i = 0; i < 20; i++) await echo.echo({ message: "warm" });
    hung.forced = { delayMs: 10_000 };
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      expect((await echo.echo({ message: "x" }, { timeoutMs: 5000 })).servedBy).toBe("b");
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("never hedges a method with side effects, whatever the config says at upstream level", async () => {
    const { hung, healthy, echo } = await hungAndHealthy({
      hedging: { delayMs: 20, maxAttempts: 3 },
      retry: { perTryTimeoutMs: 100 },
    });
    for (let i = 0; i < 6; i++) await echo.write({ message: "charge" }, { timeoutMs: 2000 }).catch(() => undefined);
    expect(received(hung, "Write") + received(healthy, "Write")).toBe(6);
  });

  it("is a configuration error on a method that is not NO_SIDE_EFFECTS, naming the method", async () => {
    servers = await startEchoServers(1);
    await expect(
      startTestSidecar({
        upstreams: echoUpstream(servers, { methods: { Write: { hedging: { delayMs: 10 } } } }),
      }),
    ).rejects.toThrow(
      "upstreams.echo.methods.Write.hedging: mesh.echo.v1.EchoService/Write is not marked idempotent, and a hedge would run it more than once",
    );
  });
});

describe("shed calls", () => {
  it("are sent elsewhere by the caller's sidecar, whatever the method: the app never saw them", async () => {
    servers = await startEchoServers(2);
    const [busy, free] = servers as [EchoServer, EchoServer];
    // One call at a time, no queue: a second call to this instance is shed.
    const busySidecar = await startTestSidecar({
      inbound: {
        listen: "127.0.0.1:0",
        app: busy.address,
        maxConcurrent: 1,
        maxQueue: 0,
        adaptiveConcurrency: { enabled: false },
      },
    });
    const freeSidecar = await startTestSidecar({ inbound: { listen: "127.0.0.1:0", app: free.address } });
    sidecar = await startTestSidecar({
      upstreams: echoUpstream([{ address: busySidecar.inbound }, { address: freeSidecar.inbound }], {
        loadBalancer: { policy: "least-outstanding" },
      }),
    });
    try {
      const occupying = echoClient(busySidecar.inbound).write({ message: "long", delayMs: 1500 });
      await expect.poll(() => received(busy, "Write")).toBe(1);
      const echo = echoClient(sidecar.outbound);
      // The balancer sees both idle, so about half of these go to the busy one first (all 16 elsewhere: 1 in 65,536).
      for (let i = 0; i < 16; i++) expect((await echo.write({ message: "charge" })).servedBy).toBe("b");
      const metrics = await (await fetch(`${sidecar.admin}/metrics`)).text();
      expect(metrics).toMatch(/mesh_retries_total\{upstream="echo",method="Write",reason="never_processed"\} [1-9]/);
      await occupying;
      expect(received(busy, "Write")).toBe(1);
      expect(received(free, "Write")).toBe(16);
    } finally {
      await busySidecar.close();
      await freeSidecar.close();
    }
  });
});
