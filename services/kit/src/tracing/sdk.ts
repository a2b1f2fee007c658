// Loaded only when tracing is on (start-tracing.ts imports it dynamically): the SDK, exporter and instrumentation
// cost memory and startup time that a process without tracing should not pay.
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { DbSystemAttribute } from "./db-system-attribute.ts";
import type { SamplerName, TracingSettings } from "./tracing-env.ts";

function samplerFor(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * Registers a tracer provider (OTLP/HTTP protobuf through a batch processor, or the given exporter span by span)
 * and the pg instrumentation; returns the function that flushes and unregisters them.
 */
export function startSdk(settings: TracingSettings, exporter?: SpanExporter): () => Promise<void> {
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ "service.name": settings.serviceName }));
  const provider = new TracerProvider({
    resource,
    sampler: samplerFor(settings.sampler, settings.ratio),
    spanProcessors: [
      new DbSystemAttribute(),
      exporter
        ? new SimpleSpanProcessor({ exporter })
        : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.tracesUrl }) }),
    ],
  });
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
