export { findExecutable } from "./executables.ts";
export { freePort } from "./free-port.ts";
export { NATS_INSTALL_HINT, type NatsServerOptions, type RunningNatsServer, startNatsServer } from "./nats-server.ts";
export { type PostgresOptions, type RunningPostgres, startPostgres } from "./postgres.ts";
export { isAlive, terminate } from "./process-exit.ts";
