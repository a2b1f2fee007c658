import type { CallTracer } from "./call-tracer.ts";
import type { SamplerSettings, TracingSettings } from "./tracing-env.ts";

export interface Tracing {
  tracer: CallTracer;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

export interface TracingResource {
  /** The sidecar's `service.name`, for example `order-sidecar`. */
  serviceName: string;
  instanceId?: string;
}

type Sdk = typeof import("@opentelemetry/sdk-trace");

function samplerOf(sdk: Sdk, settings: SamplerSettings) {
  const root =
    settings.root === "always_on"
      ? new sdk.AlwaysOnSampler()
      : settings.root === "always_off"
        ? new sdk.AlwaysOffSampler()
        : new sdk.TraceIdRatioBasedSampler(settings.ratio);
  return settings.parentBased ? new sdk.ParentBasedSampler({ root }) : root;
}

/**
 * Starts the OpenTelemetry SDK with an OTLP/HTTP (protobuf) exporter; the exporter reads its endpoint and headers
 * from the standard variables. The SDK is imported here, on demand: a sidecar that does not trace never loads it.
 */
export async function startTracing(settings: TracingSettings, resource: TracingResource): Promise<Tracing> {
  const [sdk, { OTLPTraceExporter }, { resourceFromAttributes }, { CallTracer }] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-proto"),
    import("@opentelemetry/resources"),
    import("./call-tracer.ts"),
  ]);
  const attributes: Record<string, string> = { "service.name": resource.serviceName };
  if (resource.instanceId) attributes["service.instance.id"] = resource.instanceId;
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes(attributes),
    sampler: samplerOf(sdk, settings.sampler),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...settings.batch })],
  });
  return {
    tracer: new CallTracer(provider.getTracer("mesh-sidecar")),
    shutdown: () => provider.shutdown(),
  };
}
