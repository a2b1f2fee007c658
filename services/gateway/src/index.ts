import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from "node:http2";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { meshClient, tracedConnectNodeAdapter } from "@mesh/kit";
import { Health } from "@mesh/proto/grpc/health/v1/health_pb";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentService } from "@mesh/proto/shop/payment/v1/payment_pb";
import type { Logger } from "pino";
import { type Backends, gatewayService } from "./api/gateway-service.ts";
import { gatewayHealth } from "./api/health.ts";

export interface GatewayOptions {
  /** The public edge: HTTP/1.1 for browsers and curl (the Connect protocol's JSON, gRPC-Web), and HTTP/2 cleartext
   * on the same port for gRPC clients outside the mesh (the sidecar's port takes only mesh identities). */
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

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One port for both protocols: a connection that opens with the HTTP/2 preface goes to `http2`, any other to `http`. */
function edgeServer(http: HttpServer, http2: Http2Server): NetServer {
  return createNetServer((socket: Socket) => {
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const length = Math.min(first.length, HTTP2_PREFACE.length);
      if (first.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length))) {
        // Node's HTTP/2 session reads what is buffered on the socket itself.
        http2.emit("connection", socket);
      } else {
        // The HTTP/1.1 parser takes the socket's 'data' events: let them flow again, the first bytes included.
        http.emit("connection", socket);
        socket.resume();
      }
    });
  });
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
  // A SERVER span per request; the calls to the services run inside it.
  const handler = tracedConnectNodeAdapter({
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
  const edge = edgeServer(http, http2);
  const httpPort = await listen(edge, options.http.host, options.http.port);
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
        new Promise((resolve) => edge.close(resolve)),
        new Promise((resolve) => http2.close(resolve)),
      ]);
      http.closeIdleConnections();
      for (const session of sessions) session.close();
      await closed;
    },
  };
}
