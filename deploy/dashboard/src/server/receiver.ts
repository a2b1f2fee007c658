// POST /v1/traces: the OTLP/HTTP trace receiver. 200 with an ExportTraceServiceResponse in the request's encoding
// (partial success when spans had unusable ids), 400 for a body that is not a request, 413 over the body limit, 415
// for another content type; error bodies are google.rpc.Status as OTLP/HTTP prescribes.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  decodeRequest,
  encodeResponse,
  encodeStatus,
  encodingOf,
  MalformedRequest,
  type OtlpEncoding,
} from "../otlp/codec.ts";
import { spansOf } from "../otlp/spans.ts";
import type { TraceStore } from "../store/trace-store.ts";
import { readBody } from "./body.ts";

const CONTENT_TYPES: Record<OtlpEncoding, string> = { protobuf: "application/x-protobuf", json: "application/json" };

// google.rpc.Code values
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;

function answer(response: ServerResponse, status: number, encoding: OtlpEncoding, body: Uint8Array, close = false) {
  response.writeHead(status, {
    "content-type": CONTENT_TYPES[encoding],
    "content-length": body.length,
    ...(close ? { connection: "close" } : {}),
  });
  response.end(body);
}

export async function receiveTraces(
  request: IncomingMessage,
  response: ServerResponse,
  store: TraceStore,
  bodyLimit: number,
): Promise<void> {
  const encoding = encodingOf(request.headers["content-type"]);
  if (!encoding) {
    response.writeHead(415, { "content-type": "text/plain", connection: "close" });
    response.end("OTLP/HTTP takes Content-Type application/x-protobuf or application/json\n");
    return;
  }
  const read = await readBody(request, bodyLimit);
  if ("tooLarge" in read) {
    const message = `the body is over the receiver's limit of ${bodyLimit} bytes`;
    answer(response, 413, encoding, encodeStatus(encoding, RESOURCE_EXHAUSTED, message), true);
    return;
  }
  if ("error" in read) {
    answer(response, 400, encoding, encodeStatus(encoding, INVALID_ARGUMENT, read.error));
    return;
  }
  let converted: ReturnType<typeof spansOf>;
  try {
    converted = spansOf(decodeRequest(read.body, encoding));
  } catch (error) {
    if (!(error instanceof MalformedRequest)) throw error;
    answer(response, 400, encoding, encodeStatus(encoding, INVALID_ARGUMENT, error.message));
    return;
  }
  store.add(converted.spans);
  const rejected = converted.rejected
    ? { spans: converted.rejected, message: `${converted.rejected} spans rejected: ${converted.reason}` }
    : undefined;
  answer(response, 200, encoding, encodeResponse(encoding, rejected));
}
