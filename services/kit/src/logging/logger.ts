import { type DestinationStream, type Logger, pino } from "pino";
import { activeTraceFields } from "../tracing/log-correlation.ts";

/**
 * A structured (JSON lines) logger named for its component. LOG_LEVEL sets the level (default info; tests run
 * with LOG_LEVEL=silent unless they ask otherwise). Lines written inside a span carry its trace_id and span_id.
 * Writes to stdout unless given another destination.
 */
export function createLogger(name: string, destination?: DestinationStream): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? "info", mixin: activeTraceFields }, destination);
}

export type { Logger };
