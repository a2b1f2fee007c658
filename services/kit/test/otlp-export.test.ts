import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { expect, it } from "vitest";
import { startTracing } from "../src/index.ts";

// Turned on by the standard variables alone, tracing sends OTLP/HTTP protobuf to the endpoint's /v1/traces, and
// shutting down flushes what the batch processor still holds.
it("exports spans as OTLP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT once shut down", async () => {
  const received: { path: string; contentType: string; body: Buffer }[] = [];
  const collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        contentType: request.headers["content-type"] ?? "",
        body: Buffer.concat(chunks),
      });
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  try {
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const tracing = await startTracing("order", {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "order-under-test" },
    });
    expect(tracing.enabled).toBe(true);
    trace.getTracer("test").startSpan("exported-span").end();
    await tracing.shutdown();
    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe("/v1/traces");
    expect(received[0]?.contentType).toBe("application/x-protobuf");
    // Protobuf keeps strings as they are: the span's name and the resource's service name are in the body.
    expect(received[0]?.body.includes("exported-span")).toBe(true);
    expect(received[0]?.body.includes("order-under-test")).toBe(true);
  } finally {
    await new Promise((resolve) => collector.close(resolve));
  }
});
