import type { TracingSettings } from "@mesh/telemetry";
import type { CallTracer } from "./call-tracer.ts";

export interface Tracing {
  tracer: CallTracer;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for a sidecar, `service.name` `<service>-sidecar`. The SDK is imported here, on
 * demand: a sidecar that does not trace never loads it.
 */
export async function startTracing(settings: TracingSettings, serviceName: string): Promise<Tracing> {
  const [{ createTracerProvider }, { CallTracer }] = await Promise.all([
    import("@mesh/telemetry/provider"),
    import("./call-tracer.ts"),
  ]);
  const provider = createTracerProvider(settings, { serviceName });
  return {
    tracer: new CallTracer(provider.getTracer("mesh-sidecar")),
    shutdown: () => provider.shutdown(),
  };
}
