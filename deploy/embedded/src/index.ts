export { findExecutable } from "./executables.ts";
export { freePort } from "./free-port.ts";
export { NATS_INSTALL_HINT, type NatsServerOptions, type RunningNatsServer, startNatsServer } from "./nats-server.ts";
export { type PostgresOptions, type RunningPostgres, startPostgres } from "./postgres.ts";
export { isAlive } from "./process-exit.ts";
