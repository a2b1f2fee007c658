import { describe, expect, it } from "vitest";
import { readTracingEnv } from "./tracing-env.ts";

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };

describe("tracing settings from OpenTelemetry's variables", () => {
  it("is off without an OTLP endpoint, when the SDK is disabled, or when the traces exporter is none", () => {
    expect(readTracingEnv({})).toBeUndefined();
    expect(readTracingEnv({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(readTracingEnv({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
  });

  it("is on with either endpoint variable, parent-based always-on by default, as the specification says", () => {
    expect(readTracingEnv(endpoint)?.sampler).toEqual({ root: "always_on", parentBased: true, ratio: 1 });
    expect(readTracingEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector/v1/traces" })).toBeDefined();
  });

  it("sends to the traces endpoint as given, or to the base endpoint's /v1/traces, and takes OTEL_SERVICE_NAME", () => {
    expect(readTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })?.tracesUrl).toBe(
      "http://collector:4318/v1/traces",
    );
    const both = readTracingEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://traces:9999/otlp",
      OTEL_SERVICE_NAME: "checkout",
    });
    expect(both?.tracesUrl).toBe("http://traces:9999/otlp");
    expect(both?.serviceName).toBe("checkout");
    expect(readTracingEnv(endpoint)?.serviceName).toBeUndefined();
  });

  it("reads the sampler, its ratio and the batch settings", () => {
    const settings = readTracingEnv({
      ...endpoint,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_BSP_SCHEDULE_DELAY: "500",
    });
    expect(settings?.sampler).toEqual({ root: "traceidratio", parentBased: true, ratio: 0.25 });
    expect(settings?.batch).toEqual({ scheduledDelayMillis: 500, maxQueueSize: 2048, maxExportBatchSize: 512 });
  });

  it("names the variable that is wrong", () => {
    expect(() => readTracingEnv({ ...endpoint, OTEL_TRACES_SAMPLER: "sometimes" })).toThrow(
      /^OTEL_TRACES_SAMPLER: unknown sampler "sometimes"/,
    );
    expect(() =>
      readTracingEnv({ ...endpoint, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }),
    ).toThrow(/^OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got "2"/);
    expect(() => readTracingEnv({ ...endpoint, OTEL_BSP_SCHEDULE_DELAY: "soon" })).toThrow(/^OTEL_BSP_SCHEDULE_DELAY/);
  });
});
