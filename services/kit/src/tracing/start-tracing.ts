import type { SpanExporter } from "@opentelemetry/sdk-trace";
import type { Logger } from "pino";
import "./propagation.ts";
import { tracingSettings } from "./tracing-env.ts";

export interface TracingOptions {
  /** Where problems with the tracing variables are reported. */
  log?: Logger;
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
 * Starts tracing for a process from the standard OpenTelemetry variables (see tracingSettings). Call it before the
 * service starts (runService does), so the pg instrumentation is in place when the database is opened. With tracing
 * off the SDK is not loaded; an incoming traceparent is still passed on unchanged.
 */
export async function startTracing(serviceName: string, options: TracingOptions = {}): Promise<Tracing> {
  const settings = tracingSettings(serviceName, options.env);
  for (const problem of settings.problems) options.log?.warn(`tracing: ${problem}`);
  if (!settings.enabled && !options.exporter) return { enabled: false, shutdown: async () => {} };
  const { startSdk } = await import("./sdk.ts");
  const stop = startSdk(settings, options.exporter);
  return { enabled: true, shutdown: stop };
}
