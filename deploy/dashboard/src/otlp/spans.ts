// OTLP spans (as decoded) into the dashboard's span records: ids as hex, times in microseconds, attributes as
// Jaeger-typed tags, the resource as the span's process.
import type { ExportTraceServiceRequest } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { AnyValue, KeyValue } from "../gen/opentelemetry/proto/common/v1/common_pb.ts";
import type { Span } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type { Process, SpanKind, SpanRecord, Tag } from "../model.ts";

const KINDS: SpanKind[] = ["unspecified", "internal", "server", "client", "producer", "consumer"];

function plain(value: AnyValue | undefined): unknown {
  const v = value?.value;
  switch (v?.case) {
    case "intValue":
      return Number(v.value);
    case "bytesValue":
      return Buffer.from(v.value).toString("base64");
    case "arrayValue":
      return v.value.values.map(plain);
    case "kvlistValue":
      return Object.fromEntries(v.value.values.map((each) => [each.key, plain(each.value)]));
    case undefined:
      return null;
    default:
      return v?.value;
  }
}

/** One OTLP attribute as a Jaeger tag: arrays, maps and bytes become strings (JSON, base64), as Jaeger shows them. */
export function toTag(attribute: KeyValue): Tag {
  const v = attribute.value?.value;
  const key = attribute.key;
  switch (v?.case) {
    case "stringValue":
      return { key, type: "string", value: v.value };
    case "boolValue":
      return { key, type: "bool", value: v.value };
    case "intValue":
      return { key, type: "int64", value: Number(v.value) };
    case "doubleValue":
      return { key, type: "float64", value: v.value };
    case "bytesValue":
      return { key, type: "string", value: Buffer.from(v.value).toString("base64") };
    case undefined:
      return { key, type: "string", value: "" };
    default:
      return { key, type: "string", value: JSON.stringify(plain(attribute.value)) };
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const micros = (nanos: bigint) => Number(nanos / 1000n);

/** Why a span cannot be kept, or undefined when it can (ids of the right length, not all zero). */
function invalidity(span: Span): string | undefined {
  if (span.traceId.length !== 16 || span.traceId.every((byte) => byte === 0)) return "invalid trace id";
  if (span.spanId.length !== 8 || span.spanId.every((byte) => byte === 0)) return "invalid span id";
  if (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8) return "invalid parent span id";
  return undefined;
}

export interface ConvertedRequest {
  spans: SpanRecord[];
  rejected: number;
  /** Why the first rejected span was rejected. */
  reason: string | undefined;
}

/** Every span of a request as a record; spans with unusable ids are counted as rejected, not kept. */
export function spansOf(request: ExportTraceServiceRequest): ConvertedRequest {
  const spans: SpanRecord[] = [];
  let rejected = 0;
  let reason: string | undefined;
  for (const resourceSpans of request.resourceSpans) {
    const attributes = resourceSpans.resource?.attributes ?? [];
    const serviceAttribute = attributes.find((each) => each.key === "service.name")?.value?.value;
    const process: Process = {
      serviceName:
        serviceAttribute?.case === "stringValue" && serviceAttribute.value ? serviceAttribute.value : "unknown_service",
      tags: attributes.filter((each) => each.key !== "service.name").map(toTag),
    };
    for (const scopeSpans of resourceSpans.scopeSpans) {
      const scope = { name: scopeSpans.scope?.name ?? "", version: scopeSpans.scope?.version ?? "" };
      for (const span of scopeSpans.spans) {
        const problem = invalidity(span);
        if (problem) {
          rejected++;
          reason ??= problem;
          continue;
        }
        const startUs = micros(span.startTimeUnixNano);
        spans.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: span.parentSpanId.length ? hex(span.parentSpanId) : undefined,
          name: span.name,
          kind: KINDS[span.kind] ?? "unspecified",
          startUs,
          durationUs: Math.max(0, micros(span.endTimeUnixNano) - startUs),
          attributes: span.attributes.map(toTag),
          events: span.events.map((event) => ({
            timeUs: micros(event.timeUnixNano),
            name: event.name,
            attributes: event.attributes.map(toTag),
          })),
          statusCode: span.status?.code === 2 ? 2 : span.status?.code === 1 ? 1 : 0,
          statusMessage: span.status?.message ?? "",
          scope,
          process,
        });
      }
    }
  }
  return { spans, rejected, reason };
}
