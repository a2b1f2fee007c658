import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import type { EntityManager } from "@mikro-orm/postgresql";
import { trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enqueueEvent,
  implement,
  meshClient,
  type RunningGrpcServer,
  startGrpcServer,
  startTracing,
  type Tracing,
} from "../src/index.ts";
import { type EchoServer, startEchoServer } from "../src/testing/index.ts";

// Without an OTLP endpoint nothing is recorded, but a caller's traceparent still reaches the outbox rows and the
// calls a handler makes, unchanged.
const CALLER_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
let tracing: Tracing;
let backend: EchoServer;
let front: RunningGrpcServer;
const rows: { traceparent: string | null }[] = [];
// Only the outbox's create is used: the row it would insert is what this test reads.
const recordingEm = { create: (_entity: unknown, row: { traceparent: string | null }) => rows.push(row) };

beforeAll(async () => {
  tracing = await startTracing("off-test", { env: {} });
  backend = await startEchoServer("backend");
  const viaBackend = meshClient(EchoService, backend.address);
  front = await startGrpcServer({
    port: 0,
    services: [
      implement(EchoService, {
        async echo(request) {
          enqueueEvent(recordingEm as unknown as EntityManager, {
            subject: "shop.order.created",
            schema: OrderCreatedSchema,
            message: create(OrderCreatedSchema, { orderId: request.message }),
            correlationId: request.message,
          });
          return viaBackend.echo({ message: request.message });
        },
        write: () => ({}),
        async *expand() {},
        collect: async () => ({}),
        async *chat() {},
      }),
    ],
  });
});

afterAll(async () => {
  await front?.shutdown(100);
  await backend?.shutdown(100);
  await tracing?.shutdown();
});

describe("with tracing off", () => {
  it("records nothing", () => {
    expect(tracing.enabled).toBe(false);
    expect(trace.getTracer("test").startSpan("anything").isRecording()).toBe(false);
  });

  it("passes the caller's traceparent on to outbox rows and outgoing calls unchanged", async () => {
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${front.address}` }));
    const reply = await client.echo({ message: "o-1" }, { headers: { traceparent: CALLER_TRACEPARENT } });
    expect(reply.metadata.traceparent).toBe(CALLER_TRACEPARENT);
    expect(rows.at(-1)?.traceparent).toBe(CALLER_TRACEPARENT);
  });

  it("sends no traceparent for a call that came without one", async () => {
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${front.address}` }));
    const reply = await client.echo({ message: "o-2" });
    expect(reply.metadata.traceparent).toBeUndefined();
    expect(rows.at(-1)?.traceparent).toBeNull();
  });
});
