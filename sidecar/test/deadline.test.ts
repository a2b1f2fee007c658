import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  sidecar = await mesh.sidecar({
    upstreams: echoUpstream([app], { timeoutMs: 5000, methods: { Write: { timeoutMs: 200 } } }),
  });
});

describe("deadlines", () => {
  it("sends the caller's remaining time upstream as grpc-timeout", async () => {
    const reply = await echoClient(sidecar.outbound).echo({}, { timeoutMs: 800 });
    expect(Number(reply.deadlineRemainingMs)).toBeGreaterThan(600);
    expect(Number(reply.deadlineRemainingMs)).toBeLessThanOrEqual(800);
  });

  it("caps the deadline by the configured timeout when the caller sets none", async () => {
    const reply = await echoClient(sidecar.outbound).echo({});
    expect(Number(reply.deadlineRemainingMs)).toBeGreaterThan(4000);
    expect(Number(reply.deadlineRemainingMs)).toBeLessThanOrEqual(5000);
  });

  it("answers DEADLINE_EXCEEDED when the method's timeout passes, and resets the upstream call", async () => {
    const started = Date.now();
    const failure = echoClient(sidecar.outbound).write({ delayMs: 3000 }, { timeoutMs: 10_000 });
    const error = await failure.then(
      () => undefined,
      (reason: unknown) => ConnectError.from(reason),
    );
    expect(error?.code).toBe(Code.DeadlineExceeded);
    expect(error?.rawMessage).toMatch(/^deadline exceeded after \d+ ms waiting for upstream echo$/);
    expect(Date.now() - started).toBeLessThan(1500);
    await expect.poll(() => app.cancelled.get("Write") ?? 0).toBe(1);
  });
});
