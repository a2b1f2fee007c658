import { encodeGrpcMessage, Status } from "../grpc/status.ts";
import { HeaderList } from "../h2/hpack/index.ts";

// Connection-specific headers are forbidden in HTTP/2 (RFC 9113, 8.2.2); pseudo-headers are rebuilt per hop.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);
const COLON = 58;
const X = 120;

/**
 * Mesh-internal fields start with this (`x-mesh-shed`, `x-mesh-attempts`): only a sidecar may set them, on its own
 * answers. Every header block copied from an app or a peer (a caller's request, an upstream's response headers and
 * trailers) loses them, so an app cannot forge a sidecar's word, not even by passing on a failed call's metadata.
 */
export const MESH_HEADER_PREFIX = "x-mesh-";

/** The first value of a field, or undefined. Linear: header lists are short and scanned once per call. */
export function headerValue(list: HeaderList, name: string): string | undefined {
  for (let i = 0; i < list.length; i++) if (list.names[i] === name) return list.values[i];
  return undefined;
}

/**
 * Appends the end-to-end fields of `from` to `to`: everything but pseudo-headers, connection-specific fields,
 * mesh-internal fields (see MESH_HEADER_PREFIX) and the names in `skip`, keeping each field's never-indexed flag.
 */
export function appendEndToEnd(to: HeaderList, from: HeaderList, skip?: ReadonlySet<string>): HeaderList {
  for (let i = 0; i < from.length; i++) {
    const name = from.name(i);
    const first = name.charCodeAt(0);
    if (first === COLON || HOP_BY_HOP.has(name) || skip?.has(name)) continue;
    if (first === X && name.startsWith(MESH_HEADER_PREFIX)) continue;
    to.push(name, from.value(i), from.isNeverIndexed(i));
  }
  return to;
}

/**
 * A trailers-only gRPC answer of the proxy's own: `:status`, content-type and the status, grpc-message
 * percent-encoded.
 */
export function statusResponse(httpStatus: number, code: number, message: string): HeaderList {
  const list = responseHeaders(httpStatus);
  list.push("content-type", "application/grpc");
  return appendStatus(list, code, message);
}

/**
 * Marks a call the inbound sidecar shed before it reached the app (the value says why): the caller's sidecar may
 * send it to another instance, whatever the method. Only a sidecar's own trailers-only RESOURCE_EXHAUSTED answer
 * carries it: the field is mesh-internal, so a sidecar drops it from whatever its app answers.
 */
export const SHED_HEADER = "x-mesh-shed";

/** The trailers-only RESOURCE_EXHAUSTED answer to a shed call, with SHED_HEADER set to `reason`. */
export function shedResponse(reason: string, message: string): HeaderList {
  const list = statusResponse(200, Status.RESOURCE_EXHAUSTED, message);
  list.push(SHED_HEADER, reason);
  return list;
}

/** Appends a gRPC status (grpc-status, and grpc-message percent-encoded) to `list`. */
export function appendStatus(list: HeaderList, code: number, message: string): HeaderList {
  list.push("grpc-status", String(code));
  list.push("grpc-message", encodeGrpcMessage(message));
  return list;
}

/** A response header list that starts with `:status`. */
export function responseHeaders(status: number): HeaderList {
  const list = new HeaderList();
  list.push(":status", String(status));
  return list;
}

const AUTHORITY = 2;
const TRACEPARENT = 4;
const REPLACED = new Set(["grpc-timeout"]);
const REPLACED_WHEN_TRACED = new Set(["grpc-timeout", "traceparent"]);

/**
 * The request headers sent upstream, built once per call: pseudo-headers, the caller's end-to-end fields, and
 * `grpc-timeout` last. Each attempt sets its endpoint and remaining time in place before the list is encoded.
 * When the sidecar traces, `traceparent` comes right after the pseudo-headers, holding the caller's (or "") until
 * the sidecar's span takes its place (see setTraceparent).
 */
export function forwardedRequest(
  caller: HeaderList,
  path: string,
  scheme: "http" | "https",
  traced = false,
): HeaderList {
  const list = new HeaderList();
  list.push(":method", "POST");
  list.push(":scheme", scheme);
  list.push(":authority", "");
  list.push(":path", path);
  if (traced) list.push("traceparent", headerValue(caller, "traceparent") ?? "");
  appendEndToEnd(list, caller, traced ? REPLACED_WHEN_TRACED : REPLACED);
  list.push("grpc-timeout", "");
  return list;
}

/** The caller's traceparent in a request built by forwardedRequest with tracing ("" when it sent none). */
export function callerTraceparent(list: HeaderList): string {
  return list.values[TRACEPARENT] as string;
}

/** Makes the next hop a child of the sidecar's span, in a request built by forwardedRequest with tracing. */
export function setTraceparent(list: HeaderList, traceparent: string): void {
  list.values[TRACEPARENT] = traceparent;
}

/** Points a forwarded request at an endpoint with the time left (a grpc-timeout value). */
export function aimRequest(list: HeaderList, authority: string, grpcTimeout: string): HeaderList {
  list.values[AUTHORITY] = authority;
  list.values[list.length - 1] = grpcTimeout;
  return list;
}
