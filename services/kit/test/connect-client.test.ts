import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

let server: EchoServer;
let echo: ReturnType<typeof createClient<typeof EchoService>>;

beforeAll(async () => {
  server = await startEchoServer("kit-connect");
  echo = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
});

afterAll(() => server.shutdown(100));

describe("kit server with a connect-node gRPC client", () => {
  it("answers unary calls and sees the client's headers", async () => {
    const reply = await echo.echo({ message: "hi" }, { headers: { "x-tenant": "acme" }, timeoutMs: 1000 });
    expect(reply.message).toBe("hi");
    expect(reply.metadata["x-tenant"]).toBe("acme");
    expect(Number(reply.deadlineRemainingMs)).toBeGreaterThan(0);
  });

  it("carries status codes and messages", async () => {
    const failure = echo.echo({ failCode: Code.NotFound, failMessage: "order 42 not found" });
    await expect(failure).rejects.toSatisfy(
      (error) =>
        error instanceof ConnectError && error.code === Code.NotFound && error.rawMessage === "order 42 not found",
    );
  });

  it("enforces the caller's deadline", async () => {
    const failure = echo.echo({ delayMs: 3000 }, { timeoutMs: 100 });
    await expect(failure).rejects.toSatisfy((error) => ConnectError.from(error).code === Code.DeadlineExceeded);
  });

  it("streams in both directions", async () => {
    const expanded: number[] = [];
    for await (const reply of echo.expand({ repeat: 3 })) expanded.push(reply.index);
    expect(expanded).toEqual([0, 1, 2]);

    async function* words() {
      yield { message: "a" };
      yield { message: "b" };
    }
    expect((await echo.collect(words())).message).toBe("a b");
    const chatted: string[] = [];
    for await (const reply of echo.chat(words())) chatted.push(reply.message);
    expect(chatted).toEqual(["a", "b"]);
  });
});
