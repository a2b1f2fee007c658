import { describe, expect, it } from "vitest";
import { tracingSettings } from "./tracing-env.ts";

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };

describe("tracingSettings", () => {
  it("is off without an OTLP endpoint", () => {
    expect(tracingSettings("order", {}).enabled).toBe(false);
  });

  it("is on with either endpoint variable, sending to the traces endpoint or the base's /v1/traces", () => {
    expect(tracingSettings("order", ENDPOINT)).toMatchObject({
      enabled: true,
      tracesUrl: "http://127.0.0.1:4318/v1/traces",
    });
    expect(tracingSettings("order", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector/" }).tracesUrl).toBe(
      "http://collector/v1/traces",
    );
    expect(tracingSettings("order", { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://x:4318/custom" })).toMatchObject({
      enabled: true,
      tracesUrl: "http://x:4318/custom",
    });
  });

  it("is off when the SDK is disabled or the exporter is none", () => {
    expect(tracingSettings("order", { ...ENDPOINT, OTEL_SDK_DISABLED: "TRUE" }).enabled).toBe(false);
    expect(tracingSettings("order", { ...ENDPOINT, OTEL_TRACES_EXPORTER: "none" }).enabled).toBe(false);
    expect(tracingSettings("order", { ...ENDPOINT, OTEL_SDK_DISABLED: "false" }).enabled).toBe(true);
  });

  it("names the service, unless OTEL_SERVICE_NAME overrides", () => {
    expect(tracingSettings("order", ENDPOINT).serviceName).toBe("order");
    expect(tracingSettings("order", { ...ENDPOINT, OTEL_SERVICE_NAME: "order-eu" }).serviceName).toBe("order-eu");
  });

  it("defaults to parentbased_always_on and reads the sampler and its ratio", () => {
    expect(tracingSettings("order", ENDPOINT)).toMatchObject({ sampler: "parentbased_always_on", ratio: 1 });
    const settings = tracingSettings("order", {
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    });
    expect(settings).toMatchObject({ sampler: "parentbased_traceidratio", ratio: 0.25, problems: [] });
  });

  it("reports an unknown sampler or a bad ratio and falls back", () => {
    const unknown = tracingSettings("order", { OTEL_TRACES_SAMPLER: "jaeger_remote" });
    expect(unknown.sampler).toBe("parentbased_always_on");
    expect(unknown.problems[0]).toMatch(/OTEL_TRACES_SAMPLER/);
    const badRatio = tracingSettings("order", { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" });
    expect(badRatio).toMatchObject({ sampler: "traceidratio", ratio: 1 });
    expect(badRatio.problems[0]).toMatch(/OTEL_TRACES_SAMPLER_ARG/);
  });
});
