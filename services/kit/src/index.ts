export { type DatabaseOptions, openDatabase } from "./db/database.ts";
export { InboxEntry, OutboxEvent } from "./db/kit-tables.ts";
export * from "./events/index.ts";
export {
  type BidiStreamingHandler,
  type CallContext,
  type ClientStreamingHandler,
  implement,
  type ServerStreamingHandler,
  type ServiceHandlers,
  type ServiceImplementation,
  type UnaryHandler,
} from "./grpc/handlers.ts";
export { serviceDefinition } from "./grpc/method-definition.ts";
export { type GrpcServerOptions, type RunningGrpcServer, startGrpcServer } from "./grpc/server.ts";
export { ServiceError } from "./grpc/service-error.ts";
export { HealthRegistry, OVERALL, ServingStatus } from "./health/health-registry.ts";
export { createLogger, type Logger } from "./logging/logger.ts";
export { descriptorSet } from "./reflection/descriptor-set.ts";
export { callerEnv, EnvConfigError, readEnv, serviceEnv, streamEnv } from "./runtime/env-config.ts";
export { isUuid } from "./runtime/identifiers.ts";
export { meshClient } from "./runtime/mesh-client.ts";
export {
  type RunningService,
  type ServiceContext,
  type ServiceDefinition,
  startService,
  transaction,
} from "./runtime/service-runtime.ts";
export { runService } from "./runtime/signals.ts";
export { tracedConnectNodeAdapter } from "./tracing/connect-server-spans.ts";
export { tagSpanWithOrder } from "./tracing/kit-tracer.ts";
export { startTracing, type Tracing, type TracingOptions } from "./tracing/start-tracing.ts";
