import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { traceCalls } from "../tracing/mesh-client-spans.ts";

/**
 * A typed client of another service, through the local sidecar's outbound listener (`host:port`): the sidecar
 * routes by the protobuf service and adds retries, deadlines and breakers. Each call is a CLIENT span.
 */
export function meshClient<S extends DescService>(service: S, sidecarOutbound: string): Client<S> {
  return createClient(
    service,
    createGrpcTransport({ baseUrl: `http://${sidecarOutbound}`, interceptors: [traceCalls] }),
  );
}
