import type { Logger } from "pino";
import { createLogger } from "../logging/logger.ts";

/**
 * Runs a service process: starts it (a start failure, such as a bad environment, prints one line and exits 1),
 * then on SIGTERM or SIGINT stops it gracefully and exits (0 when the stop went well, 1 when it failed).
 */
export function runService(name: string, start: (log: Logger) => Promise<{ stop(): Promise<void> }>): void {
  const log = createLogger(name);
  start(log).then(
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
