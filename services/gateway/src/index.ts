import { createServer as createHttpServer } from "node:http";
import { createServer as createHttp2Server, type Http2Session } from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { meshClient } from "@mesh/kit";
import { Health } from "@mesh/proto/grpc/health/v1/health_pb";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentService } from "@mesh/proto/shop/payment/v1/payment_pb";
import type { Logger } from "pino";
import { type Backends, gatewayService } from "./api/gateway-service.ts";
import { gatewayHealth } from "./api/health.ts";

export interface GatewayOptions {
  /** HTTP/1.1 for browsers and curl: the Connect protocol (JSON) and gRPC-Web. */
  http: { host: string; port: number };
  /** HTTP/2 cleartext for gRPC (and Connect over HTTP/2), behind the gateway's sidecar. */
  grpc: { host: string; port: number };
  sidecarOutbound: string;
  log: Logger;
  backends?: Backends;
}

export interface RunningGateway {
  readonly httpPort: number;
  readonly grpcPort: number;
  stop(): Promise<void>;
}

function listen(
  server: {
    listen(port: number, host: string, done: () => void): unknown;
    once(event: "error", fn: (e: Error) => void): unknown;
    address(): unknown;
  },
  host: string,
  port: number,
) {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** The gateway: one set of routes served over HTTP/1.1 (Connect JSON, gRPC-Web) and HTTP/2 (gRPC, Connect). */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const backends = options.backends ?? {
    order: meshClient(OrderService, options.sidecarOutbound),
    inventory: meshClient(InventoryService, options.sidecarOutbound),
    payment: meshClient(PaymentService, options.sidecarOutbound),
  };
  let serving = true;
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(GatewayService, gatewayService(backends));
      router.service(
        Health,
        gatewayHealth([GatewayService.typeName], () => serving),
      );
    },
  });
  const http = createHttpServer(handler);
  const http2 = createHttp2Server(handler);
  // Clients keep their HTTP/2 sessions open: stopping asks each to end (GOAWAY; in-flight calls finish), or close()
  // would wait for the clients to hang up.
  const sessions = new Set<Http2Session>();
  http2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const httpPort = await listen(http, options.http.host, options.http.port);
  const grpcPort = await listen(http2, options.grpc.host, options.grpc.port);
  options.log.info(
    { http: `${options.http.host}:${httpPort}`, grpc: `${options.grpc.host}:${grpcPort}` },
    "gateway serving",
  );
  return {
    httpPort,
    grpcPort,
    async stop() {
      serving = false;
      const closed = Promise.all([
        new Promise((resolve) => http.close(resolve)),
        new Promise((resolve) => http2.close(resolve)),
      ]);
      http.closeIdleConnections();
      for (const session of sessions) session.close();
      await closed;
    },
  };
}
