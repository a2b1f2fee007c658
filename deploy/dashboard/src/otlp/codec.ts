// OTLP/HTTP request and response bodies, both encodings, decoded and encoded with @bufbuild/protobuf from the OTLP
// .proto files vendored in ../../proto and generated into ../gen. Why this way: the wire format is the project's
// standard protobuf runtime (the mesh's own contracts use it), generated code is checked in (no build step, no
// runtime .proto parsing), and protobuf-es also implements the canonical JSON mapping, so the JSON encoding needs only
// OTLP's one deviation handled here: trace and span ids are hex strings instead of base64.
import { create, fromBinary, fromJson, type JsonValue, toBinary, toJsonString } from "@bufbuild/protobuf";
import { StatusSchema } from "../gen/google/rpc/status_pb.ts";
import {
  type ExportTraceServiceRequest,
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";

export type OtlpEncoding = "protobuf" | "json";

/** A body that is not a valid ExportTraceServiceRequest in its encoding. */
export class MalformedRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedRequest";
  }
}

/** The encoding a Content-Type names, or undefined for a type the receiver does not take. */
export function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
  if (type === "application/json") return "json";
  return undefined;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function hexToBase64(value: unknown, where: string): unknown {
  if (typeof value !== "string") return value;
  if (!HEX.test(value)) throw new MalformedRequest(`${where} is not a hex string: ${JSON.stringify(value)}`);
  return Buffer.from(value, "hex").toString("base64");
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Rewrites OTLP JSON's hex ids into the base64 that the canonical protobuf JSON mapping has for bytes fields. */
function idsToBase64(json: Record<string, unknown>): void {
  for (const [r, resourceSpans] of asArray(json.resourceSpans ?? json.resource_spans).entries()) {
    const resource = asObject(resourceSpans);
    for (const [s, scopeSpans] of asArray(resource?.scopeSpans ?? resource?.scope_spans).entries()) {
      const scope = asObject(scopeSpans);
      for (const [i, each] of asArray(scope?.spans).entries()) {
        const span = asObject(each);
        if (!span) continue;
        const where = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        for (const key of ["traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"]) {
          if (key in span) span[key] = hexToBase64(span[key], `${where}.${key}`);
        }
        for (const [l, eachLink] of asArray(span.links).entries()) {
          const link = asObject(eachLink);
          if (!link) continue;
          for (const key of ["traceId", "trace_id", "spanId", "span_id"]) {
            if (key in link) link[key] = hexToBase64(link[key], `${where}.links[${l}].${key}`);
          }
        }
      }
    }
  }
}

/** Decodes a request body; throws MalformedRequest when it is not one. */
export function decodeRequest(body: Uint8Array, encoding: OtlpEncoding): ExportTraceServiceRequest {
  if (encoding === "protobuf") {
    try {
      return fromBinary(ExportTraceServiceRequestSchema, body);
    } catch (error) {
      throw new MalformedRequest(`not an ExportTraceServiceRequest: ${(error as Error).message}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new MalformedRequest(`not JSON: ${(error as Error).message}`);
  }
  const object = asObject(json);
  if (!object) throw new MalformedRequest("not an ExportTraceServiceRequest: the JSON body is not an object");
  idsToBase64(object);
  try {
    // OTLP receivers must ignore fields they do not know (newer senders).
    return fromJson(ExportTraceServiceRequestSchema, object as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw new MalformedRequest(`not an ExportTraceServiceRequest: ${(error as Error).message}`);
  }
}

/** An ExportTraceServiceResponse, with partial success when some spans were rejected. */
export function encodeResponse(
  encoding: OtlpEncoding,
  rejected: { spans: number; message: string } | undefined,
): Uint8Array {
  const response = create(ExportTraceServiceResponseSchema, {
    partialSuccess: rejected ? { rejectedSpans: BigInt(rejected.spans), errorMessage: rejected.message } : undefined,
  });
  return encoding === "protobuf"
    ? toBinary(ExportTraceServiceResponseSchema, response)
    : new TextEncoder().encode(toJsonString(ExportTraceServiceResponseSchema, response));
}

/** The google.rpc.Status body OTLP/HTTP prescribes for error answers (code 3 = INVALID_ARGUMENT, and so on). */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Uint8Array {
  const status = create(StatusSchema, { code, message });
  return encoding === "protobuf"
    ? toBinary(StatusSchema, status)
    : new TextEncoder().encode(toJsonString(StatusSchema, status));
}
