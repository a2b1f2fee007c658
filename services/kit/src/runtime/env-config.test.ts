import { describe, expect, it } from "vitest";
import { readEnv, serviceEnv } from "./env-config.ts";

describe("readEnv", () => {
  it("fills defaults and coerces numbers", () => {
    expect(readEnv(serviceEnv, { DATABASE_URL: "postgres://u:p@h:5/db", GRPC_PORT: "7000" })).toEqual({
      DATABASE_URL: "postgres://u:p@h:5/db",
      NATS_URL: "nats://127.0.0.1:4222",
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: 7000,
    });
  });

  it("names every bad variable with its value, and the missing ones", () => {
    expect(() => readEnv(serviceEnv, { NATS_URL: "localhost", GRPC_PORT: "http" })).toThrow(
      [
        "invalid environment:",
        "  DATABASE_URL: Invalid input: expected string, received undefined (not set)",
        '  NATS_URL: expected a nats:// URL (got "localhost")',
        '  GRPC_PORT: Invalid input: expected number, received NaN (got "http")',
      ].join("\n"),
    );
  });
});
