// Loaded only when tracing is on (start-tracing.ts imports it dynamically): the SDK, exporter and instrumentation
// cost memory and startup time that a process without tracing should not pay.
import type { TracingSettings } from "@mesh/telemetry";
import { trace } from "@opentelemetry/api";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import type { SpanExporter } from "@opentelemetry/sdk-trace";
import { DbSystemAttribute } from "./db-system-attribute.ts";

/**
 * Registers a tracer provider (OTLP/HTTP protobuf through a batch processor, or the given exporter span by span)
 * and the pg instrumentation; returns the function that flushes and unregisters them.
 */
export async function startSdk(
  serviceName: string,
  settings: TracingSettings | undefined,
  exporter?: SpanExporter,
): Promise<() => Promise<void>> {
  const { createTracerProvider } = await import("@mesh/telemetry/provider");
  const provider = createTracerProvider(settings, { serviceName, processors: [new DbSystemAttribute()], exporter });
  trace.setGlobalTracerProvider(provider);
  // The hook patches pg when it is next required, which knex does when MikroORM opens the database (after this
  // runs at startup), so an import of pg before tracing started is no problem. Queries outside any span (the
  // outbox relay's polling, migrations) are not recorded: they would be a root trace every half second.
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [new PgInstrumentation({ requireParentSpan: true })],
  });
  return async () => {
    unregister();
    await provider.shutdown();
    trace.disable();
  };
}
