import { describe, expect, it } from "vitest";
import { readEnv, serviceEnv } from "./env-config.ts";

describe("readEnv", () => {
  it("fills defaults and coerces numbers", () => {
    expect(readEnv(serviceEnv, { DATABASE_URL: "postgres://u:p@h:5/db", GRPC_PORT: "7000" })).toEqual({
      DATABASE_URL: "postgres://u:p@h:5/db",
      NATS_URL: "nats://127.0.0.1:4222",
      EVENT_RETRY_CEILING_MS: 300_000,
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: 7000,
    });
  });

  it("names every bad variable with its value, and the missing ones", () => {
    expect(() => readEnv(serviceEnv, { NATS_URL: "localhost", GRPC_PORT: "http" })).toThrow(
      [
        "invalid environment:",
        "  DATABASE_URL: Invalid input: expected string, received undefined (not set)",
        '  NATS_URL: expected a nats:// URL, or several separated by commas (got "localhost")',
        '  GRPC_PORT: Invalid input: expected number, received NaN (got "http")',
      ].join("\n"),
    );
  });

  it("takes a cluster's servers as a comma-separated NATS_URL and names a bad one", () => {
    const cluster = "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222";
    expect(readEnv(serviceEnv, { DATABASE_URL: "postgres://h/db", NATS_URL: cluster }).NATS_URL).toBe(cluster);
    expect(() => readEnv(serviceEnv, { DATABASE_URL: "postgres://h/db", NATS_URL: "nats://a:4222,b:4222" })).toThrow(
      '  NATS_URL: expected a nats:// URL, or several separated by commas (got "nats://a:4222,b:4222")',
    );
  });

  it("reads NATS_STREAM_REPLICAS as a count from 1 to 5, absent by default", () => {
    const base = { DATABASE_URL: "postgres://h/db" };
    expect(readEnv(serviceEnv, base).NATS_STREAM_REPLICAS).toBeUndefined();
    expect(readEnv(serviceEnv, { ...base, NATS_STREAM_REPLICAS: "3" }).NATS_STREAM_REPLICAS).toBe(3);
    expect(() => readEnv(serviceEnv, { ...base, NATS_STREAM_REPLICAS: "7" })).toThrow(
      '  NATS_STREAM_REPLICAS: expected 1 to 5 replicas (JetStream\'s limit) (got "7")',
    );
  });

  it("reads the retry ceiling in ms and METRICS_LISTEN as host:port, unset by default", () => {
    const base = { DATABASE_URL: "postgres://h/db" };
    expect(readEnv(serviceEnv, base).METRICS_LISTEN).toBeUndefined();
    const set = readEnv(serviceEnv, { ...base, EVENT_RETRY_CEILING_MS: "2000", METRICS_LISTEN: "0.0.0.0:9464" });
    expect(set).toMatchObject({ EVENT_RETRY_CEILING_MS: 2000, METRICS_LISTEN: "0.0.0.0:9464" });
    expect(() => readEnv(serviceEnv, { ...base, METRICS_LISTEN: "9464" })).toThrow(
      '  METRICS_LISTEN: expected host:port (got "9464")',
    );
  });
});
