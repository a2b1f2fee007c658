import type { Logger } from "pino";
import { createLogger } from "../logging/logger.ts";
import { startTracing } from "../tracing/start-tracing.ts";

type Stoppable = { stop(): Promise<void> };

/** Starts tracing (from the OTEL_* variables), then the service; stopping stops the service, then flushes spans. */
async function startTraced(name: string, log: Logger, start: (log: Logger) => Promise<Stoppable>): Promise<Stoppable> {
  const tracing = await startTracing(name);
  const running = await start(log).catch(async (error: unknown) => {
    await tracing.shutdown();
    throw error;
  });
  return {
    async stop() {
      try {
        await running.stop();
      } finally {
        await tracing.shutdown();
      }
    },
  };
}

/**
 * Runs a service process: starts tracing and the service (a start failure, such as a bad environment, prints one
 * line and exits 1), then on SIGTERM or SIGINT stops it gracefully, flushes its spans and exits (0 when the stop
 * went well, 1 when it failed).
 */
export function runService(name: string, start: (log: Logger) => Promise<Stoppable>): void {
  const log = createLogger(name);
  startTraced(name, log, start).then(
    (running) => {
      let stopping = false;
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.on(signal, () => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, "stopping");
          running.stop().then(
            () => process.exit(0),
            (error: unknown) => {
              log.error({ err: error }, "stop failed");
              process.exit(1);
            },
          );
        });
      }
    },
    (error: unknown) => {
      console.error(`${name}: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
