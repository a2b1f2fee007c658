import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { meshClient, startTracing, type Tracing, tracedConnectNodeAdapter } from "../src/index.ts";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

// The gateway's kind of server (connect-node over HTTP): a SERVER span per request, with the calls its handlers
// make to services as children.
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let backend: EchoServer;
let edge: Server;
let edgeUrl: string;

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID = "b7ad6b7169203331";

beforeAll(async () => {
  tracing = await startTracing("edge-test", { exporter });
  backend = await startEchoServer("backend");
  const viaBackend = meshClient(EchoService, backend.address);
  const handler = tracedConnectNodeAdapter({
    routes: (router) =>
      router.service(EchoService, {
        async echo(request) {
          if (request.failCode) throw new ConnectError(request.failMessage, request.failCode);
          return viaBackend.echo({ message: request.message });
        },
      }),
  });
  edge = createServer(handler);
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => edge?.close(resolve));
  await backend?.shutdown(100);
  await tracing?.shutdown();
});

beforeEach(() => exporter.reset());

const client = () => createClient(EchoService, createConnectTransport({ baseUrl: edgeUrl, httpVersion: "1.1" }));
/** The request's span, which ends when the response closes: that can be just after the client has its answer. */
async function serverSpan() {
  const find = () =>
    exporter
      .getFinishedSpans()
      .find((span) => span.kind === SpanKind.SERVER && span.attributes["rpc.system"] === "connect_rpc");
  for (let tries = 0; tries < 100 && !find(); tries++) await sleep(10);
  return find();
}

describe("connect server spans", () => {
  it("continue the caller's trace, and the handler's calls are their children", async () => {
    await client().echo({ message: "hi" }, { headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01` } });
    const span = await serverSpan();
    expect(span?.name).toBe("mesh.echo.v1.EchoService/Echo");
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(span?.attributes).toMatchObject({
      "rpc.service": "mesh.echo.v1.EchoService",
      "rpc.method": "Echo",
      "http.request.method": "POST",
      "url.path": "/mesh.echo.v1.EchoService/Echo",
      "http.response.status_code": 200,
    });
    const call = exporter.getFinishedSpans().find((each) => each.kind === SpanKind.CLIENT);
    expect(call?.name).toBe("mesh.echo.v1.EchoService/Echo");
    expect(call?.parentSpanContext?.spanId).toBe(span?.spanContext().spanId);
  });

  it("record a failed call as an error with its code", async () => {
    await expect(client().echo({ failCode: Code.NotFound, failMessage: "no such order" })).rejects.toThrow();
    const span = await serverSpan();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: "no such order" });
    expect(span?.attributes).toMatchObject({
      "rpc.connect_rpc.error_code": "not_found",
      "http.response.status_code": 404,
    });
  });
});
