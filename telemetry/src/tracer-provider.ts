// The SDK side of tracing, imported on demand by apps and sidecars once readTracingEnv says tracing is on: a process
// that does not trace never loads the SDK.
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { SamplerSettings, TracingSettings } from "./tracing-env.ts";

function samplerOf(settings: SamplerSettings): Sampler {
  const root =
    settings.root === "always_on"
      ? new AlwaysOnSampler()
      : settings.root === "always_off"
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(settings.ratio);
  return settings.parentBased ? new ParentBasedSampler({ root }) : root;
}

export interface ProviderOptions {
  /** `service.name`, unless OTEL_SERVICE_NAME set one. */
  serviceName: string;
  /** Processors that see each span before it is exported (for example to add an attribute). */
  processors?: SpanProcessor[];
  /** Tests: spans go to this exporter one at a time instead of to the OTLP endpoint in batches. */
  exporter?: SpanExporter;
}

const EVERY_TRACE: SamplerSettings = { root: "always_on", parentBased: true, ratio: 1 };

function exportingProcessor(settings: TracingSettings | undefined, exporter: SpanExporter | undefined) {
  if (exporter) return new SimpleSpanProcessor({ exporter });
  if (!settings) throw new Error("tracing needs either settings with an OTLP endpoint or an exporter");
  return new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.tracesUrl }), ...settings.batch });
}

/**
 * A tracer provider as the settings describe: their sampler, and spans batched to the OTLP/HTTP (protobuf)
 * endpoint. The resource also takes OTEL_RESOURCE_ATTRIBUTES. Without settings (tests), every trace is sampled and
 * goes to `options.exporter`.
 */
export function createTracerProvider(settings: TracingSettings | undefined, options: ProviderOptions): TracerProvider {
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ "service.name": settings?.serviceName ?? options.serviceName }));
  return new TracerProvider({
    resource,
    sampler: samplerOf(settings?.sampler ?? EVERY_TRACE),
    spanProcessors: [...(options.processors ?? []), exportingProcessor(settings, options.exporter)],
  });
}
