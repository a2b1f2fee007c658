import { Status } from "../grpc/status.ts";
import { parseGrpcTimeout } from "../grpc/timeout.ts";
import type { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream } from "../h2/proto/index.ts";
import { headerValue, statusResponse } from "./headers.ts";

/** A well-formed gRPC request's routing facts. */
export interface GrpcRequest {
  path: string;
  /** The protobuf service, `package.Service`. */
  service: string;
  method: string;
  /** The caller's grpc-timeout in milliseconds, if it set one. */
  timeoutMs: number | undefined;
  /** `:authority`, which may name the upstream. */
  authority: string | undefined;
}

export interface RequestProblem {
  httpStatus: number;
  code: number;
  message: string;
}

const PATH = /^\/([A-Za-z_][\w.]*)\/([A-Za-z_]\w*)$/;

/**
 * Checks that a stream is a gRPC call and reads its routing facts, or says precisely what is wrong with it.
 * `headerListSize` is the request's header list size as HTTP/2 counts it (RFC 9113, 6.5.2).
 */
export function readGrpcRequest(
  headers: HeaderList,
  headerListSize: number,
  maxHeaderListBytes: number,
): GrpcRequest | RequestProblem {
  if (headerListSize > maxHeaderListBytes) {
    return {
      httpStatus: 200,
      code: Status.RESOURCE_EXHAUSTED,
      message: `request headers of ${headerListSize} bytes exceed the limit of ${maxHeaderListBytes} bytes`,
    };
  }
  const contentType = headerValue(headers, "content-type") ?? "";
  if (!contentType.startsWith("application/grpc")) {
    const got = contentType ? `"${contentType}"` : "none";
    return { httpStatus: 415, code: Status.INTERNAL, message: `not a gRPC request: content-type ${got}` };
  }
  const method = headerValue(headers, ":method");
  if (method !== "POST") {
    return { httpStatus: 405, code: Status.INTERNAL, message: `gRPC requires POST, got ${method}` };
  }
  const path = headerValue(headers, ":path") ?? "";
  const match = PATH.exec(path);
  if (!match) {
    return { httpStatus: 200, code: Status.UNIMPLEMENTED, message: `malformed method path "${path}"` };
  }
  const timeout = headerValue(headers, "grpc-timeout");
  const timeoutMs = parseGrpcTimeout(timeout);
  if (timeoutMs === null) {
    return { httpStatus: 200, code: Status.INTERNAL, message: `malformed grpc-timeout "${timeout}"` };
  }
  return {
    path,
    service: match[1] as string,
    method: match[2] as string,
    timeoutMs,
    authority: headerValue(headers, ":authority"),
  };
}

export function isProblem(value: GrpcRequest | RequestProblem): value is RequestProblem {
  return "httpStatus" in value;
}

/** Answers a request that cannot be proxied, with a gRPC status a gRPC client can read (trailers-only). */
export function rejectRequest(stream: H2Stream, problem: RequestProblem): void {
  if (stream.closed || stream.headersSent) return;
  stream.respond(statusResponse(problem.httpStatus, problem.code, problem.message), true);
}
