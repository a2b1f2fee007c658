import { credentials, Metadata, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { serviceDefinition } from "@mesh/kit";
import { type EchoResponse, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { describe, expect, it } from "vitest";
import { runGrpcioChecks } from "../../test/interop/grpcio.ts";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

// Three independent gRPC implementations call the app through two sidecars (outbound, then inbound).
let app: EchoServer;
let inbound: TestSidecar;
let outbound: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  inbound = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  const services = [
    "mesh.echo.v1.EchoService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ];
  outbound = await mesh.sidecar({ upstreams: echoUpstream([{ address: inbound.inbound }], { services }) });
});

describe("independent clients through two sidecars", () => {
  it("Python grpcio: unary, statuses, deadlines, every kind of stream, health and reflection", async () => {
    const results = await runGrpcioChecks(outbound.outbound);
    expect(results.unary).toMatchObject({ message: "from python", servedBy: "a", client: "grpcio" });
    expect(results.status).toEqual({ code: "FAILED_PRECONDITION", details: "stock is 0 % ünïcode" });
    expect(results.deadline).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(results.serverStreaming).toEqual([0, 1, 2]);
    expect(results.clientStreaming).toBe("a b c");
    expect(results.bidi).toEqual(["x", "y"]);
    expect(results.health).toEqual({ overall: "SERVING", echo: "SERVING", unknown: "NOT_FOUND" });
    expect(results.reflection).toMatchObject({
      file: "mesh/echo/v1/echo.proto",
      idempotency: { Echo: "NO_SIDE_EFFECTS" },
    });
  }, 40_000);

  it("grpc-js: unary with metadata, and a server stream", async () => {
    const Client = makeGenericClientConstructor(serviceDefinition(EchoService), "EchoService");
    const client = new Client(outbound.outbound, credentials.createInsecure()) as unknown as Record<
      string,
      (...args: unknown[]) => unknown
    > & { close(): void };
    const metadata = new Metadata();
    metadata.set("x-caller", "grpc-js");
    const reply = await new Promise<EchoResponse>((resolve, reject) =>
      client.echo?.({ message: "js" }, metadata, (error: ServiceError | null, response: EchoResponse) =>
        error ? reject(error) : resolve(response),
      ),
    );
    expect(reply).toMatchObject({ message: "js", servedBy: "a" });
    expect(reply.metadata["x-caller"]).toBe("grpc-js");
    const indexes: number[] = [];
    const stream = client.expand?.({ repeat: 3 }) as AsyncIterable<EchoResponse>;
    for await (const item of stream) indexes.push(item.index);
    expect(indexes).toEqual([0, 1, 2]);
    client.close();
  });

  it("connect-node: bidirectional stream", async () => {
    async function* words() {
      for (const message of ["one", "two"]) yield { message };
    }
    const replies: string[] = [];
    for await (const reply of echoClient(outbound.outbound).chat(words())) replies.push(reply.message);
    expect(replies).toEqual(["one", "two"]);
  });
});
