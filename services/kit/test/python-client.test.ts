import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGrpcioChecks } from "../../../test/interop/grpcio.ts";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

let server: EchoServer;
let results: Record<string, unknown>;

beforeAll(async () => {
  server = await startEchoServer("kit-python");
  results = await runGrpcioChecks(server.address);
}, 40_000);

afterAll(() => server.shutdown(100));

describe("kit server with Python grpcio", () => {
  it("answers unary calls with metadata and a deadline", () => {
    expect(results.unary).toMatchObject({ message: "from python", servedBy: "kit-python", client: "grpcio" });
    expect(Number((results.unary as { deadlineMs: number }).deadlineMs)).toBeGreaterThan(3000);
  });

  it("carries status codes and percent-encoded messages", () => {
    expect(results.status).toEqual({ code: "FAILED_PRECONDITION", details: "stock is 0 % ünïcode" });
  });

  it("ends calls past their deadline", () => {
    expect(results.deadline).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect((results.deadline as { elapsedMs: number }).elapsedMs).toBeLessThan(3000);
  });

  it("streams in every direction", () => {
    expect(results.serverStreaming).toEqual([0, 1, 2]);
    expect(results.clientStreaming).toBe("a b c");
    expect(results.bidi).toEqual(["x", "y"]);
  });

  it("serves grpc.health.v1", () => {
    expect(results.health).toEqual({ overall: "SERVING", echo: "SERVING", unknown: "NOT_FOUND" });
  });

  it("serves reflection with real file names and idempotency levels", () => {
    expect(results.reflection).toEqual({
      services: [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "mesh.echo.v1.EchoService",
      ],
      file: "mesh/echo/v1/echo.proto",
      methods: ["Echo", "Write", "Expand", "Collect", "Chat"],
      echoInput: ".mesh.echo.v1.EchoRequest",
      idempotency: {
        Echo: "NO_SIDE_EFFECTS",
        Write: "IDEMPOTENCY_UNKNOWN",
        Expand: "NO_SIDE_EFFECTS",
        Collect: "IDEMPOTENCY_UNKNOWN",
        Chat: "IDEMPOTENCY_UNKNOWN",
      },
      missingCode: 5,
    });
  });

  it("serves reflection v1alpha too, for older tools", () => {
    expect(results.reflectionV1alpha).toEqual({
      services: 4,
      file: "mesh/echo/v1/echo.proto",
      package: "mesh.echo.v1",
    });
  });
});
