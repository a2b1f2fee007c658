import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ExportTraceServiceResponseSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { type FakeSpan, otlpJson, otlpProtobuf } from "../testing/synthetic.ts";
import { decodeRequest, encodeResponse, encodingOf, MalformedRequest } from "./codec.ts";
import { spansOf } from "./spans.ts";

const traceId = "5b8efff798038103d269b633813fc60c";
const spans: FakeSpan[] = [
  {
    service: "order",
    traceId,
    spanId: "eee19b7ec3c1b174",
    name: "shop.order.v1.OrderService/PlaceOrder",
    kind: "server",
    startMs: 1_700_000_000_123.456,
    durationMs: 20.5,
    attributes: { "shop.order_id": "o-1", "rpc.grpc.status_code": 0, ratio: 0.5, retried: true, list: ["a", "b"] },
    events: [{ name: "retry.backoff", atMs: 1_700_000_000_130, attributes: { "mesh.backoff_ms": 5 } }],
  },
  {
    service: "order-sidecar",
    traceId,
    spanId: "0102030405060708",
    parentSpanId: "eee19b7ec3c1b174",
    name: "attempt x",
    kind: "client",
    startMs: 1_700_000_000_125,
    durationMs: 1,
    error: "UNAVAILABLE: connection refused",
  },
];

describe("OTLP codec", () => {
  for (const [encoding, body] of [
    ["protobuf", otlpProtobuf(spans)],
    ["json", otlpJson(spans)],
  ] as const) {
    it(`decodes an exporter's ${encoding} body into span records`, () => {
      const { spans: records, rejected } = spansOf(decodeRequest(body, encoding));
      expect(rejected).toBe(0);
      expect(records).toHaveLength(2);
      const [server, attempt] = records;
      expect(server).toMatchObject({
        traceId,
        spanId: "eee19b7ec3c1b174",
        parentSpanId: undefined,
        kind: "server",
        startUs: 1_700_000_000_123_456,
        durationUs: 20_500,
        statusCode: 0,
        process: { serviceName: "order" },
        scope: { name: "mesh-test", version: "1.0.0" },
      });
      expect(server?.attributes).toEqual([
        { key: "shop.order_id", type: "string", value: "o-1" },
        { key: "rpc.grpc.status_code", type: "int64", value: 0 },
        { key: "ratio", type: "float64", value: 0.5 },
        { key: "retried", type: "bool", value: true },
        { key: "list", type: "string", value: '["a","b"]' },
      ]);
      expect(server?.events).toEqual([
        {
          timeUs: 1_700_000_000_130_000,
          name: "retry.backoff",
          attributes: [{ key: "mesh.backoff_ms", type: "int64", value: 5 }],
        },
      ]);
      expect(server?.process.tags).toContainEqual({ key: "service.instance.id", type: "string", value: "order-1" });
      expect(attempt).toMatchObject({
        parentSpanId: "eee19b7ec3c1b174",
        kind: "client",
        statusCode: 2,
        statusMessage: "UNAVAILABLE: connection refused",
        process: { serviceName: "order-sidecar" },
      });
    });
  }

  it("takes int64 times as numbers as well as strings in JSON, and ignores unknown fields", () => {
    const body = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: "0102030405060708",
                  name: "x",
                  kind: 1,
                  startTimeUnixNano: 1e18,
                  endTimeUnixNano: "1000000000002000000",
                  future: 1,
                },
              ],
            },
          ],
        },
      ],
    });
    const { spans: records } = spansOf(decodeRequest(new TextEncoder().encode(body), "json"));
    expect(records[0]).toMatchObject({
      startUs: 1e15,
      durationUs: 2000,
      kind: "internal",
      process: { serviceName: "unknown_service" },
    });
  });

  it("rejects spans with unusable ids (partial success), keeping the others", () => {
    const body = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: "00".repeat(16), spanId: "0102030405060708" },
                { traceId, spanId: "01" },
                { traceId, spanId: "0102030405060708" },
              ],
            },
          ],
        },
      ],
    });
    const converted = spansOf(decodeRequest(new TextEncoder().encode(body), "json"));
    expect(converted).toMatchObject({ rejected: 2, reason: "invalid trace id" });
    expect(converted.spans).toHaveLength(1);
    const response = fromBinary(
      ExportTraceServiceResponseSchema,
      encodeResponse("protobuf", { spans: 2, message: "2 spans rejected" }),
    );
    expect(response.partialSuccess).toMatchObject({ rejectedSpans: 2n, errorMessage: "2 spans rejected" });
    expect(new TextDecoder().decode(encodeResponse("json", undefined))).toBe("{}");
  });

  it("names what is malformed", () => {
    const bad = (text: string) => () => decodeRequest(new TextEncoder().encode(text), "json");
    expect(bad("{nope")).toThrow(MalformedRequest);
    expect(bad("[]")).toThrow(/not an object/);
    expect(bad('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}')).toThrow(
      /traceId is not a hex string/,
    );
    expect(bad('{"resourceSpans":"many"}')).toThrow(MalformedRequest);
    expect(() => decodeRequest(new Uint8Array([0x0a, 0xff, 0xff, 0xff]), "protobuf")).toThrow(MalformedRequest);
    expect(() => decodeRequest(new Uint8Array([0xff, 0x01]), "protobuf")).toThrow(MalformedRequest);
  });

  it("knows the content types OTLP/HTTP uses", () => {
    expect(encodingOf("application/x-protobuf")).toBe("protobuf");
    expect(encodingOf("application/json; charset=utf-8")).toBe("json");
    expect(encodingOf("text/plain")).toBeUndefined();
    expect(encodingOf(undefined)).toBeUndefined();
  });
});
