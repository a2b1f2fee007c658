import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@mesh/proto/grpc/health/v1/health_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

let server: EchoServer;
let health: ReturnType<typeof createClient<typeof Health>>;

beforeAll(async () => {
  server = await startEchoServer("kit-health");
  health = createClient(Health, createGrpcTransport({ baseUrl: `http://${server.address}` }));
});

afterAll(() => server.shutdown(100));

describe("grpc.health.v1 on the kit server", () => {
  it("reports the server and each service, and NOT_FOUND for unknown ones", async () => {
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await health.check({ service: "mesh.echo.v1.EchoService" })).status).toBe(Status.SERVING);
    await expect(health.check({ service: "nope.Service" })).rejects.toSatisfy(
      (error) => ConnectError.from(error).code === Code.NotFound,
    );
    const listed = await health.list({});
    expect(Object.keys(listed.statuses).sort()).toEqual(["", "grpc.health.v1.Health", "mesh.echo.v1.EchoService"]);
  });

  it("streams the current status, then each change, to a watcher", async () => {
    const abort = new AbortController();
    const seen: Status[] = [];
    const stream = health.watch({ service: "mesh.echo.v1.EchoService" }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    seen.push((await iterator.next()).value.status);
    server.health.set("mesh.echo.v1.EchoService", Status.NOT_SERVING);
    seen.push((await iterator.next()).value.status);
    server.health.set("mesh.echo.v1.EchoService", Status.SERVING);
    seen.push((await iterator.next()).value.status);
    abort.abort();
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
  });

  it("tells a watcher of an unknown service SERVICE_UNKNOWN, then its status once it is known", async () => {
    const abort = new AbortController();
    const iterator = health.watch({ service: "later.Service" }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value.status).toBe(Status.SERVICE_UNKNOWN);
    server.health.set("later.Service", Status.SERVING);
    expect((await iterator.next()).value.status).toBe(Status.SERVING);
    abort.abort();
  });
});
