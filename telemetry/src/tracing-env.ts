// Whether and how a process of the mesh traces, from OpenTelemetry's standard environment variables (the SDK v3
// reads none of them itself): on when an OTLP endpoint is set, unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none.
// Apps and sidecars read them here, so both answer a variable the same way. Pure: the caller passes the environment.

export interface SamplerSettings {
  /** The root decision: always, never, or a share of trace ids. */
  root: "always_on" | "always_off" | "traceidratio";
  /** Follow the caller's sampled flag when there is a parent. */
  parentBased: boolean;
  ratio: number;
}

export interface TracingSettings {
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT's /v1/traces. */
  tracesUrl: string;
  /** OTEL_SERVICE_NAME, which overrides the name the process gives itself. */
  serviceName: string | undefined;
  sampler: SamplerSettings;
  /** BatchSpanProcessor settings (OTEL_BSP_*). */
  batch: { scheduledDelayMillis: number; maxQueueSize: number; maxExportBatchSize: number };
}

export class TracingEnvError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "TracingEnvError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const SAMPLERS: Record<string, Omit<SamplerSettings, "ratio">> = {
  always_on: { root: "always_on", parentBased: false },
  always_off: { root: "always_off", parentBased: false },
  traceidratio: { root: "traceidratio", parentBased: false },
  parentbased_always_on: { root: "always_on", parentBased: true },
  parentbased_always_off: { root: "always_off", parentBased: true },
  parentbased_traceidratio: { root: "traceidratio", parentBased: true },
};

function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== "";
}

function tracesUrl(env: Env): string | undefined {
  if (isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.trim();
  if (isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT))
    return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.trim().replace(/\/+$/, "")}/v1/traces`;
  return undefined;
}

function positiveInteger(env: Env, variable: string, fallback: number): number {
  const text = env[variable];
  if (!isSet(text)) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new TracingEnvError(variable, `expected a positive integer, got "${text}"`);
  return value;
}

function sampler(env: Env): SamplerSettings {
  const name = isSet(env.OTEL_TRACES_SAMPLER) ? env.OTEL_TRACES_SAMPLER.trim().toLowerCase() : "parentbased_always_on";
  const kind = SAMPLERS[name];
  if (!kind) {
    throw new TracingEnvError(
      "OTEL_TRACES_SAMPLER",
      `unknown sampler "${name}"; use one of ${Object.keys(SAMPLERS).join(", ")}`,
    );
  }
  const arg = env.OTEL_TRACES_SAMPLER_ARG;
  const ratio = isSet(arg) ? Number(arg) : 1;
  if (kind.root === "traceidratio" && !(ratio >= 0 && ratio <= 1)) {
    throw new TracingEnvError("OTEL_TRACES_SAMPLER_ARG", `expected a ratio from 0 to 1, got "${arg}"`);
  }
  return { ...kind, ratio };
}

/** The tracing settings, or undefined when tracing is off. Throws TracingEnvError naming a malformed variable. */
export function readTracingEnv(env: Env): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return undefined;
  const url = tracesUrl(env);
  if (!url) return undefined;
  return {
    tracesUrl: url,
    serviceName: isSet(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : undefined,
    sampler: sampler(env),
    batch: {
      scheduledDelayMillis: positiveInteger(env, "OTEL_BSP_SCHEDULE_DELAY", 5000),
      maxQueueSize: positiveInteger(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
      maxExportBatchSize: positiveInteger(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
    },
  };
}
