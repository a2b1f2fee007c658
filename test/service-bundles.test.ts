import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { freePort } from "@mesh/embedded";
import { serviceBundle } from "@mesh/local";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@mesh/proto/grpc/health/v1/health_pb";
import { afterAll, describe, expect, it } from "vitest";

// Every app of the mesh runs from its build (scripts/build.mjs), as the local mesh, compose and Kubernetes start
// it. The provider needs no database or NATS, so its build is started here on its own; test/local-mesh.test.ts
// runs every service's build in the whole mesh.
const ROOT = resolve(import.meta.dirname, "..");
let provider: ChildProcess | undefined;

afterAll(() => {
  provider?.kill("SIGKILL");
});

/** The server's overall health status, once it answers (within 15 s). */
async function servingStatus(address: string): Promise<Status> {
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${address}` }));
  for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
    try {
      return (await health.check({ service: "" }, { timeoutMs: 1000 })).status;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

describe("a service's build", () => {
  it("starts without a TypeScript loader, answers health checks over gRPC, and stops cleanly", async () => {
    const port = await freePort();
    provider = spawn(process.execPath, [await serviceBundle(ROOT, "provider")], {
      env: { ...process.env, GRPC_HOST: "127.0.0.1", GRPC_PORT: String(port), NODE_OPTIONS: "" },
      stdio: "ignore",
    });
    expect(await servingStatus(`127.0.0.1:${port}`)).toBe(Status.SERVING);
    const exit = once(provider, "exit");
    provider.kill("SIGTERM");
    expect((await exit)[0]).toBe(0);
  });
});
