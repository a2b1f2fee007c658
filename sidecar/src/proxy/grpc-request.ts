import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { encodeGrpcMessage, Status } from "../grpc/status.ts";
import { parseGrpcTimeout } from "../grpc/timeout.ts";
import { headerValue } from "./headers.ts";

/** A well-formed gRPC request's routing facts. */
export interface GrpcRequest {
  path: string;
  /** The protobuf service, `package.Service`. */
  service: string;
  method: string;
  /** The caller's grpc-timeout in milliseconds, if it set one. */
  timeoutMs: number | undefined;
}

export interface RequestProblem {
  httpStatus: number;
  code: number;
  message: string;
}

const PATH = /^\/([A-Za-z_][\w.]*)\/([A-Za-z_]\w*)$/;

/** The HTTP/2 header list size (RFC 9113, 6.5.2): each field's name and value plus 32 bytes. */
function headerListBytes(headers: IncomingHttpHeaders): number {
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    for (const each of Array.isArray(value) ? value : [value ?? ""]) size += name.length + String(each).length + 32;
  }
  return size;
}

/** Checks that a stream is a gRPC call and reads its routing facts, or says precisely what is wrong with it. */
export function readGrpcRequest(
  headers: IncomingHttpHeaders,
  maxHeaderListBytes: number,
): GrpcRequest | RequestProblem {
  const size = headerListBytes(headers);
  if (size > maxHeaderListBytes) {
    return {
      httpStatus: 200,
      code: Status.RESOURCE_EXHAUSTED,
      message: `request headers of ${size} bytes exceed the limit of ${maxHeaderListBytes} bytes`,
    };
  }
  const contentType = headerValue(headers, "content-type") ?? "";
  if (!contentType.startsWith("application/grpc")) {
    const got = contentType ? `"${contentType}"` : "none";
    return { httpStatus: 415, code: Status.INTERNAL, message: `not a gRPC request: content-type ${got}` };
  }
  if (headers[":method"] !== "POST") {
    return { httpStatus: 405, code: Status.INTERNAL, message: `gRPC requires POST, got ${headers[":method"]}` };
  }
  const path = headerValue(headers, ":path") ?? "";
  const match = PATH.exec(path);
  if (!match) {
    return { httpStatus: 200, code: Status.UNIMPLEMENTED, message: `malformed method path "${path}"` };
  }
  const timeoutMs = parseGrpcTimeout(headerValue(headers, "grpc-timeout"));
  if (timeoutMs === null) {
    return { httpStatus: 200, code: Status.INTERNAL, message: `malformed grpc-timeout "${headers["grpc-timeout"]}"` };
  }
  return { path, service: match[1] as string, method: match[2] as string, timeoutMs };
}

export function isProblem(value: GrpcRequest | RequestProblem): value is RequestProblem {
  return "httpStatus" in value;
}

/** Answers a request that cannot be proxied, with a gRPC status a gRPC client can read. */
export function rejectRequest(stream: ServerHttp2Stream, problem: RequestProblem): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    {
      ":status": problem.httpStatus,
      "content-type": "application/grpc",
      "grpc-status": String(problem.code),
      "grpc-message": encodeGrpcMessage(problem.message),
    },
    { endStream: true },
  );
  stream.resume();
}
