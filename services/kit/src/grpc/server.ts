import { type ChannelOptions, Server, ServerCredentials } from "@grpc/grpc-js";
import { Health } from "@mesh/proto/grpc/health/v1/health_pb";
import type { Logger } from "pino";
import { HealthRegistry, OVERALL, ServingStatus } from "../health/health-registry.ts";
import { healthService } from "../health/health-service.ts";
import { createLogger } from "../logging/logger.ts";
import { reflectionServices } from "../reflection/reflection-service.ts";
import { startHandlerSpan, withoutSpan } from "../tracing/handler-span.ts";
import { adaptHandler, type CallSpanStarter } from "./call-adapters.ts";
import type { ServiceImplementation } from "./handlers.ts";
import { serviceDefinition } from "./method-definition.ts";

export interface GrpcServerOptions {
  /** The application's services; health and reflection are added for them. */
  services: readonly ServiceImplementation[];
  /** Where to listen; an app behind a sidecar listens on loopback only. Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The largest request message accepted, in bytes. Default 4 MiB, as gRPC's default. */
  maxReceiveMessageBytes?: number;
  logger?: Logger;
}

export interface RunningGrpcServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for clients. */
  readonly address: string;
  readonly health: HealthRegistry;
  /** Reports NOT_SERVING, lets in-flight calls finish within graceMs, then closes the remaining ones. */
  shutdown(graceMs?: number): Promise<void>;
}

function addService(server: Server, implementation: ServiceImplementation, log: Logger, startSpan: CallSpanStarter) {
  const { service, handlers } = implementation;
  const callHandlers = Object.fromEntries(
    service.methods.map((method) => {
      const handler = handlers[method.localName];
      if (!handler) throw new Error(`${service.typeName}: no handler for method ${method.name}`);
      return [method.localName, adaptHandler(method, handler, log, startSpan)];
    }),
  );
  server.addService(serviceDefinition(service), callHandlers);
}

function bind(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`)) : resolve(boundPort),
    );
  });
}

function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** Starts a grpc-js server for protobuf-es services, with grpc.health.v1 and grpc.reflection (v1 and v1alpha). */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.logger ?? createLogger("grpc-server");
  const channelOptions: ChannelOptions = {
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
  };
  const server = new Server(channelOptions);
  const health = new HealthRegistry();
  const appServices = options.services.map((implementation) => implementation.service);
  for (const implementation of options.services) addService(server, implementation, log, startHandlerSpan);
  // Health checks (every few seconds from each sidecar) and reflection are served without spans: they would bury
  // the application's traces.
  const healthImplementation = healthService(health);
  const untraced = [healthImplementation, ...reflectionServices([...appServices, healthImplementation.service])];
  for (const implementation of untraced) addService(server, implementation, log, withoutSpan);

  const port = await bind(server, host, options.port);
  for (const service of [OVERALL, Health.typeName, ...appServices.map((service) => service.typeName)]) {
    health.set(service, ServingStatus.SERVING);
  }
  log.info({ address: `${host}:${port}`, services: appServices.map((service) => service.typeName) }, "serving");
  return {
    host,
    port,
    address: `${host}:${port}`,
    health,
    async shutdown(graceMs = 5000) {
      health.setAll(ServingStatus.NOT_SERVING);
      await closeGracefully(server, graceMs);
    },
  };
}
