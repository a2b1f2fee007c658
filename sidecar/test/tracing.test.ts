import { Code } from "@connectrpc/connect";
import { createTracerProvider } from "@mesh/telemetry/provider";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { CallTracer } from "../src/tracing/call-tracer.ts";
import type { Tracing } from "../src/tracing/start-tracing.ts";
import {
  type EchoServer,
  echoClient,
  echoUpstream,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";

// caller -> sidecar "client" (outbound) -> sidecar "server" (inbound) -> echo app, each sidecar tracing into one
// in-memory exporter, as two processes would into one collector.
// A new exporter per test: closing a sidecar shuts its provider down, and with it the exporter.
let exporter = new InMemorySpanExporter();
let servers: EchoServer[] = [];
let sidecars: TestSidecar[] = [];

afterEach(async () => {
  for (const sidecar of sidecars) await sidecar.close();
  await Promise.all(servers.map((server) => server.shutdown(100)));
  servers = [];
  sidecars = [];
  exporter = new InMemorySpanExporter();
});

function inMemoryTracing(serviceName: string): Tracing {
  const provider = createTracerProvider(undefined, { serviceName, exporter });
  return { tracer: new CallTracer(provider.getTracer("test")), shutdown: () => provider.shutdown() };
}

async function twoHops(apps: EchoServer[], serverConfig: Record<string, unknown> = {}) {
  const inbound = [];
  for (const app of apps) {
    const server = await startTestSidecar(
      { inbound: { listen: "127.0.0.1:0", app: app.address }, ...serverConfig },
      { tracing: inMemoryTracing("echo-sidecar") },
    );
    sidecars.push(server);
    inbound.push({ address: server.inbound });
  }
  const client = await startTestSidecar(
    { upstreams: echoUpstream(inbound) },
    { tracing: inMemoryTracing("caller-sidecar") },
  );
  sidecars.push(client);
  return echoClient(client.outbound);
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const service = (span: ReadableSpan) => span.resource.attributes["service.name"];

function spanNamed(name: string, kind: SpanKind, serviceName: string): ReadableSpan {
  const found = exporter
    .getFinishedSpans()
    .filter((span) => span.name === name && span.kind === kind && service(span) === serviceName);
  expect(found, `${serviceName} ${name}`).toHaveLength(1);
  return found[0] as ReadableSpan;
}

describe("tracing in the sidecar", () => {
  it("continues the caller's trace: client call span, attempt span, the next sidecar's server span, the app's parent", async () => {
    servers = await startEchoServers(1);
    const echo = await twoHops(servers);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
    const reply = await echo.echo({ message: "hi" }, { headers: { traceparent } });

    const method = "mesh.echo.v1.EchoService/Echo";
    await expect.poll(() => exporter.getFinishedSpans().length).toBe(3);
    const call = spanNamed(method, SpanKind.CLIENT, "caller-sidecar");
    const attempt = spanNamed(`attempt ${method}`, SpanKind.CLIENT, "caller-sidecar");
    const server = spanNamed(method, SpanKind.SERVER, "echo-sidecar");
    for (const span of [call, attempt, server]) expect(traceOf(span)).toBe(traceId);
    expect(parentOf(call)).toBe("00f067aa0ba902b7");
    expect(parentOf(attempt)).toBe(idOf(call));
    expect(parentOf(server)).toBe(idOf(attempt));
    expect(reply.metadata.traceparent).toBe(`00-${traceId}-${idOf(server)}-01`);

    expect(call.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "mesh.echo.v1.EchoService",
      "rpc.method": "Echo",
      "rpc.grpc.status_code": 0,
      "mesh.upstream": "echo",
      "mesh.attempts": 1,
    });
    expect(attempt.attributes).toMatchObject({ "mesh.attempt": 1, "server.address": "127.0.0.1" });
    expect(attempt.attributes["server.port"]).toBe(Number(sidecars[0]?.inbound.split(":")[1]));
  });

  it("starts a trace for a call that comes without one", async () => {
    servers = await startEchoServers(1);
    const echo = await twoHops(servers);
    const reply = await echo.echo({ message: "hi" });
    await expect.poll(() => exporter.getFinishedSpans().length).toBe(3);
    const call = spanNamed("mesh.echo.v1.EchoService/Echo", SpanKind.CLIENT, "caller-sidecar");
    const server = spanNamed("mesh.echo.v1.EchoService/Echo", SpanKind.SERVER, "echo-sidecar");
    expect(parentOf(call)).toBeUndefined();
    expect(traceOf(server)).toBe(traceOf(call));
    expect(reply.metadata.traceparent).toBe(`00-${traceOf(call)}-${idOf(server)}-01`);
  });

  it("records a retry: a failed attempt span, a backoff event with the reason, and a second attempt elsewhere", async () => {
    servers = await startEchoServers(2);
    const [a, b] = servers as [EchoServer, EchoServer];
    a.forced = { failCode: Code.Unavailable, failMessage: "instance a is down" };
    const echo = await twoHops([a, b]);
    for (let i = 0; i < 6; i++) await echo.echo({ message: "x" });
    const method = "mesh.echo.v1.EchoService/Echo";
    const retriedCall = () =>
      exporter
        .getFinishedSpans()
        .find(
          (span) => span.name === method && span.kind === SpanKind.CLIENT && span.attributes["mesh.attempts"] === 2,
        );
    await expect.poll(retriedCall, { message: "a call that took two attempts" }).toBeDefined();
    const retried = retriedCall();
    const call = retried as ReadableSpan;
    const attempts = exporter
      .getFinishedSpans()
      .filter((span) => parentOf(span) === idOf(call))
      .sort((x, y) => Number(x.attributes["mesh.attempt"]) - Number(y.attributes["mesh.attempt"]));
    expect(attempts.map((span) => span.attributes["rpc.grpc.status_code"])).toEqual([Code.Unavailable, 0]);
    expect(attempts[0]?.status.message).toContain("instance a is down");
    expect(attempts[1]?.attributes["mesh.retry_reason"]).toBe("UNAVAILABLE");
    expect(attempts[0]?.attributes["server.port"]).not.toBe(attempts[1]?.attributes["server.port"]);
    const backoff = call.events.find((event) => event.name === "retry.backoff");
    expect(backoff?.attributes?.["mesh.retry_reason"]).toBe("UNAVAILABLE");
    expect(call.attributes["rpc.grpc.status_code"]).toBe(0);
  });

  it("marks a failed call's spans as errors with the status and its message", async () => {
    servers = await startEchoServers(1);
    const echo = await twoHops(servers);
    await expect(echo.echo({ failCode: Code.NotFound, failMessage: "no such thing" })).rejects.toThrow("no such thing");
    await expect.poll(() => exporter.getFinishedSpans().length).toBe(3);
    const server = spanNamed("mesh.echo.v1.EchoService/Echo", SpanKind.SERVER, "echo-sidecar");
    expect(server.attributes["rpc.grpc.status_code"]).toBe(Code.NotFound);
    expect(server.status).toEqual({ code: 2, message: "no such thing" });
  });
});
