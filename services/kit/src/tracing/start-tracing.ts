import type { SpanExporter } from "@opentelemetry/sdk-trace";
import "./propagation.ts";
import { readTracingEnv } from "@mesh/telemetry";

export interface TracingOptions {
  env?: NodeJS.ProcessEnv;
  /** Tests: spans go to this exporter one by one, and tracing is on whatever the environment says. */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports the spans not yet sent and stops recording; call once the process's work is done. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing for a process from the standard OpenTelemetry variables (@mesh/telemetry reads them; a malformed one
 * is an error naming it). Call it before the service starts (runService does), so the pg instrumentation is in place
 * when the database is opened. With tracing off the SDK is not loaded; an incoming traceparent is still passed on
 * unchanged.
 */
export async function startTracing(serviceName: string, options: TracingOptions = {}): Promise<Tracing> {
  const settings = readTracingEnv(options.env ?? process.env);
  if (!settings && !options.exporter) return { enabled: false, shutdown: async () => {} };
  const { startSdk } = await import("./sdk.ts");
  const stop = await startSdk(serviceName, settings, options.exporter);
  return { enabled: true, shutdown: stop };
}
