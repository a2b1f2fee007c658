import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type EchoClient,
  type EchoServer,
  echoClient,
  echoUpstream,
  type TestSidecar,
  useEchoMesh,
} from "./harness.ts";

// caller -> sidecar A (outbound) -> sidecar B (inbound) -> echo app: the mesh's real two-hop path.
let app: EchoServer;
let server: TestSidecar;
let client: TestSidecar;
let echo: EchoClient;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  server = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  client = await mesh.sidecar({ upstreams: echoUpstream([{ address: server.inbound }]) });
  echo = echoClient(client.outbound);
});

describe("passing calls through two sidecars", () => {
  it("relays unary calls with request metadata intact", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const reply = await echo.echo({ message: "hi" }, { headers: { traceparent, "x-tenant": "t1" } });
    expect(reply.message).toBe("hi");
    expect(reply.servedBy).toBe("a");
    expect(reply.metadata.traceparent).toBe(traceparent);
    expect(reply.metadata["x-tenant"]).toBe("t1");
  });

  it("relays a handler's status and message (a trailers-only response)", async () => {
    const failure = echo.echo({ failCode: Code.NotFound, failMessage: "no such thing: 100% ünïcode" });
    await expect(failure).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.NotFound && error.rawMessage === "no such thing: 100% ünïcode",
    );
  });

  it("relays streams in every direction", async () => {
    const expanded: number[] = [];
    for await (const reply of echo.expand({ repeat: 5 })) expanded.push(reply.index);
    expect(expanded).toEqual([0, 1, 2, 3, 4]);
    async function* words() {
      for (const message of ["x", "y", "z"]) yield { message };
    }
    expect((await echo.collect(words())).message).toBe("x y z");
    const chatted: string[] = [];
    for await (const reply of echo.chat(words())) chatted.push(reply.message);
    expect(chatted).toEqual(["x", "y", "z"]);
  });

  it("relays 4 MiB messages both ways", async () => {
    const payload = new Uint8Array(4 * 1024 * 1024 - 64).fill(3);
    const reply = await echo.echo({ payload }, { timeoutMs: 10_000 });
    expect(reply.payload.length).toBe(payload.length);
    const big = await echo.echo({ responseSize: 4 * 1024 * 1024 - 64 });
    expect(big.payload.length).toBe(4 * 1024 * 1024 - 64);
  });

  it("propagates the caller's cancellation to the app", async () => {
    const before = app.cancelled.get("Chat") ?? 0;
    const abort = new AbortController();
    const stream = echo.chat(
      (async function* () {
        yield { message: "first" };
        await new Promise((resolve) => setTimeout(resolve, 10_000));
      })(),
      { signal: abort.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.message).toBe("first");
    abort.abort();
    await expect(iterator.next()).rejects.toBeInstanceOf(ConnectError);
    await expect.poll(() => app.cancelled.get("Chat") ?? 0).toBe(before + 1);
  });

  it("answers UNIMPLEMENTED, naming the service, for a service no upstream serves", async () => {
    const { createClient } = await import("@connectrpc/connect");
    const { createGrpcTransport } = await import("@connectrpc/connect-node");
    const { Health } = await import("@mesh/proto/grpc/health/v1/health_pb");
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${client.outbound}` }));
    await expect(health.check({})).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.Unimplemented && error.rawMessage.includes("grpc.health.v1.Health"),
    );
  });
});
