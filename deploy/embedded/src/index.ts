export { findExecutable } from "./executables.ts";
export { freePort } from "./free-port.ts";
export {
  NATS_INSTALL_HINT,
  type NatsClusterNode,
  type NatsClusterOptions,
  type NatsServerOptions,
  type RunningNatsCluster,
  type RunningNatsServer,
  startNatsCluster,
  startNatsServer,
} from "./nats-server.ts";
export { type PostgresOptions, type RunningPostgres, startPostgres } from "./postgres.ts";
export { isAlive, terminate } from "./process-exit.ts";
