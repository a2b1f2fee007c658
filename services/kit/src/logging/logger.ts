import { type Logger, pino } from "pino";

/**
 * A structured (JSON lines) logger named for its component. LOG_LEVEL sets the level (default info; tests run
 * with LOG_LEVEL=silent unless they ask otherwise).
 */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? "info" });
}

export type { Logger };
