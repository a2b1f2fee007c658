/** Which sampler the standard OTEL_TRACES_SAMPLER variable asks for. */
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

export interface TracingSettings {
  /** Whether spans are recorded and exported; when not, traceparent is still passed on unchanged. */
  enabled: boolean;
  /** Where spans are sent: the traces endpoint as given, or the base endpoint's /v1/traces. */
  tracesUrl: string | undefined;
  serviceName: string;
  sampler: SamplerName;
  /** The ratio of root traces sampled by the traceidratio samplers, 0 to 1. */
  ratio: number;
  /** Values that could not be used (and what is used instead), for a warning at startup. */
  problems: string[];
}

const SAMPLERS: readonly SamplerName[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

const nonEmpty = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

/**
 * Reads the standard OpenTelemetry variables: tracing is on iff an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT), OTEL_SDK_DISABLED is not true and
 * OTEL_TRACES_EXPORTER is not none. OTEL_SERVICE_NAME overrides the service's own name.
 */
export function tracingSettings(serviceName: string, env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const problems: string[] = [];
  const base = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const tracesUrl =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? (base && `${base.replace(/\/+$/, "")}/v1/traces`);
  const disabled = nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === "true";
  const noExporter = nonEmpty(env.OTEL_TRACES_EXPORTER)?.toLowerCase() === "none";

  let sampler: SamplerName = "parentbased_always_on";
  const requested = nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase();
  if (requested) {
    if (SAMPLERS.includes(requested as SamplerName)) sampler = requested as SamplerName;
    else problems.push(`OTEL_TRACES_SAMPLER: unsupported sampler "${requested}"; using ${sampler}`);
  }

  let ratio = 1;
  const ratioArg = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
  if (ratioArg !== undefined && sampler.endsWith("traceidratio")) {
    const parsed = Number(ratioArg);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) ratio = parsed;
    else problems.push(`OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got "${ratioArg}"; using 1`);
  }

  return {
    enabled: tracesUrl !== undefined && !disabled && !noExporter,
    tracesUrl,
    serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? serviceName,
    sampler,
    ratio,
    problems,
  };
}
