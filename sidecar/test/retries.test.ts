import { Code, type ConnectError } from "@connectrpc/connect";
import { freePort } from "@mesh/embedded";
import { afterEach, describe, expect, it } from "vitest";
import {
  type EchoServer,
  echoClient,
  echoUpstream,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";

let servers: EchoServer[] = [];
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close();
  await Promise.all(servers.map((server) => server.shutdown(100)));
  servers = [];
  sidecar = undefined;
});

const unavailable = { failCode: Code.Unavailable, failMessage: "instance a is down" };
const total = (server: EchoServer, method: string) => server.received.get(method) ?? 0;

describe("retries", () => {
  it("retries an idempotent call that failed with UNAVAILABLE on another endpoint, and says so", async () => {
    servers = await startEchoServers(2);
    const [a, b] = servers as [EchoServer, EchoServer];
    a.forced = unavailable;
    sidecar = await startTestSidecar({ upstreams: echoUpstream([a, b]) });
    const echo = echoClient(sidecar.outbound);
    const attempts: (string | null)[] = [];
    for (let i = 0; i < 10; i++) {
      const reply = await echo.echo(
        { message: "x" },
        { onHeader: (headers) => attempts.push(headers.get("x-mesh-attempts")) },
      );
      expect(reply.servedBy).toBe("b");
    }
    // Calls that went to a first were retried on b, and say so; calls that went to b first were not retried.
    expect(attempts.filter((value) => value === "2").length).toBe(total(a, "Echo"));
    expect(attempts.filter((value) => value === null).length).toBe(10 - total(a, "Echo"));
  });

  it("sends a non-idempotent call that failed with UNAVAILABLE exactly once", async () => {
    servers = await startEchoServers(2);
    const [a, b] = servers as [EchoServer, EchoServer];
    a.forced = unavailable;
    b.forced = unavailable;
    sidecar = await startTestSidecar({ upstreams: echoUpstream([a, b]) });
    const failure = echoClient(sidecar.outbound).write({ message: "charge" });
    await expect(failure).rejects.toSatisfy((error: ConnectError) => error.code === Code.Unavailable);
    expect(total(a, "Write") + total(b, "Write")).toBe(1);
  });

  it("retries any method, on another endpoint, when the request never reached an app (connection refused)", async () => {
    servers = await startEchoServers(1);
    const [live] = servers as [EchoServer];
    const dead = `127.0.0.1:${await freePort()}`;
    sidecar = await startTestSidecar({ upstreams: echoUpstream([{ address: dead }, live]) });
    const echo = echoClient(sidecar.outbound);
    for (let i = 0; i < 8; i++) expect((await echo.write({ message: `w${i}` })).servedBy).toBe("a");
    expect(total(live, "Write")).toBe(8);
  });

  it("retries when the callee's sidecar refuses the stream because its app is down (REFUSED_STREAM)", async () => {
    servers = await startEchoServers(1);
    const [live] = servers as [EchoServer];
    const appGone = await startTestSidecar({
      inbound: { listen: "127.0.0.1:0", app: `127.0.0.1:${await freePort()}` },
    });
    sidecar = await startTestSidecar({ upstreams: echoUpstream([{ address: appGone.inbound }, live]) });
    try {
      const echo = echoClient(sidecar.outbound);
      for (let i = 0; i < 6; i++) expect((await echo.write({ message: "w" })).servedBy).toBe("a");
      expect(total(live, "Write")).toBe(6);
    } finally {
      await appGone.close();
    }
  });

  it("keeps retries within the budget when every call fails", async () => {
    servers = await startEchoServers(1);
    const [a] = servers as [EchoServer];
    a.forced = unavailable;
    const budget = { ratio: 0.2, minRetriesPerSecond: 1, windowSeconds: 10 };
    sidecar = await startTestSidecar({
      upstreams: echoUpstream([a], {
        retryBudget: budget,
        retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 2 },
        // Keep the breaker and ejection out of the way: this test is about the budget alone.
        circuitBreaker: { mode: "consecutive", consecutiveFailures: 10_000 },
        outlierDetection: { consecutiveFailures: 10_000 },
      }),
    });
    const echo = echoClient(sidecar.outbound);
    const calls = 100;
    for (let i = 0; i < calls; i++) await echo.echo({}).catch(() => undefined);
    // Without a budget, 100 calls of up to 5 attempts would send 500; the budget allows 20% + 1/s over the window.
    const allowed = calls * budget.ratio + budget.minRetriesPerSecond * budget.windowSeconds;
    expect(total(a, "Echo")).toBeGreaterThanOrEqual(calls);
    expect(total(a, "Echo")).toBeLessThanOrEqual(calls + allowed);
    const metrics = await (await fetch(`${sidecar.admin}/metrics`)).text();
    expect(metrics).toMatch(/mesh_retry_budget_exhausted_total\{upstream="echo"\} [1-9]/);
  });

  it("does not retry once response data has gone to the caller", async () => {
    servers = await startEchoServers(2);
    sidecar = await startTestSidecar({ upstreams: echoUpstream(servers) });
    const seen: number[] = [];
    const stream = echoClient(sidecar.outbound).expand({ repeat: 5, failAfter: 2, failCode: Code.Unavailable });
    const consume = async () => {
      for await (const reply of stream) seen.push(reply.index);
    };
    await expect(consume()).rejects.toSatisfy((error: ConnectError) => error.code === Code.Unavailable);
    expect(seen).toEqual([0, 1]);
    expect(servers.reduce((sum, server) => sum + total(server, "Expand"), 0)).toBe(1);
  });

  it("does not retry a request too large to buffer for replay", async () => {
    servers = await startEchoServers(2);
    for (const server of servers) server.forced = unavailable;
    sidecar = await startTestSidecar({ upstreams: echoUpstream(servers), limits: { retryBufferBytes: 1024 } });
    const failure = echoClient(sidecar.outbound).echo({ payload: new Uint8Array(4096) });
    await expect(failure).rejects.toSatisfy((error: ConnectError) => error.code === Code.Unavailable);
    expect(servers.reduce((sum, server) => sum + total(server, "Echo"), 0)).toBe(1);
  });
});

describe("held responses", () => {
  it("retries an idempotent call whose upstream dies after sending data but before its trailers", async () => {
    const { createServer, constants } = await import("node:http2");
    let broken = 0;
    // An upstream that answers with headers and a message, then resets the stream: no trailers, no status.
    const dying = createServer((_request, response) => {
      broken++;
      response.stream.respond({ ":status": 200, "content-type": "application/grpc" });
      response.stream.write(Buffer.from([0, 0, 0, 0, 0]));
      setImmediate(() => response.stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    });
    await new Promise<void>((resolve) => dying.listen(0, "127.0.0.1", resolve));
    servers = await startEchoServers(1);
    const address = `127.0.0.1:${(dying.address() as { port: number }).port}`;
    sidecar = await startTestSidecar({
      upstreams: echoUpstream([{ address }, ...servers], { outlierDetection: { consecutiveFailures: 1000 } }),
    });
    try {
      const echo = echoClient(sidecar.outbound);
      for (let i = 0; i < 10; i++) expect((await echo.echo({ message: "whole" })).message).toBe("whole");
      expect(broken).toBeGreaterThan(0);
    } finally {
      dying.close();
    }
  });
});
