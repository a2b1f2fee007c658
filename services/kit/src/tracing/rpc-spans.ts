import type { DescMethod } from "@bufbuild/protobuf";
import { type Attributes, type Span, SpanStatusCode } from "@opentelemetry/api";

/** The contract's name of an RPC span: `<pkg.Service>/<Method>`. */
export function rpcSpanName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

export function rpcAttributes(method: DescMethod, system: "grpc" | "connect_rpc"): Attributes {
  return { "rpc.system": system, "rpc.service": method.parent.typeName, "rpc.method": method.name };
}

/** Records a gRPC status on an RPC span and ends it: any code but OK (0) is an error, described by its message. */
export function endRpcSpan(span: Span, code: number, message?: string): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
