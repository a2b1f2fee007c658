export { readTracingEnv, type SamplerSettings, TracingEnvError, type TracingSettings } from "./tracing-env.ts";
