import { z } from "zod";
import { DEFAULT_RETRY_CEILING_MS } from "../events/consumer-runner.ts";

/** A configuration that cannot be used: the message names each variable and what is wrong with it. */
export class EnvConfigError extends Error {}

/** Reads and validates environment variables with a schema; the error names every bad variable and its value. */
export function readEnv<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const value = env[name];
    return `  ${name}: ${issue.message}${value === undefined ? " (not set)" : ` (got ${JSON.stringify(value)})`}`;
  });
  throw new EnvConfigError(`invalid environment:\n${lines.join("\n")}`);
}

const NATS_SERVER_URL = /^(nats|tls|ws|wss):\/\/\S+$/;

/** How many copies JetStream keeps of each stream; unset, the kit derives it from the cluster (see ensureStreams). */
export const streamEnv = {
  NATS_STREAM_REPLICAS: z.coerce
    .number()
    .int()
    .min(1, "expected 1 to 5 replicas")
    .max(5, "expected 1 to 5 replicas (JetStream's limit)")
    .optional(),
};

/** How the kit runs events and serves metrics (read by startService itself, like NATS_STREAM_REPLICAS). */
export const runtimeEnv = {
  /** The ceiling of the growing delay between tries of an event a must-complete consumer failed to apply. */
  EVENT_RETRY_CEILING_MS: z.coerce.number().int().min(1).default(DEFAULT_RETRY_CEILING_MS),
  /** Where to serve the Prometheus metrics (GET /metrics); unset, they are not served. */
  METRICS_LISTEN: z
    .string()
    .regex(/^[^:\s]+:\d+$/, "expected host:port")
    .optional(),
};

/** Variables every service reads. */
export const serviceEnv = {
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL"),
  // A cluster's servers, comma-separated: the client connects to any of them and reconnects to the others.
  NATS_URL: z
    .string()
    .refine(
      (value) => value.split(",").every((url) => NATS_SERVER_URL.test(url.trim())),
      "expected a nats:// URL, or several separated by commas",
    )
    .default("nats://127.0.0.1:4222"),
  ...streamEnv,
  ...runtimeEnv,
  GRPC_HOST: z.string().default("127.0.0.1"),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
};

/** Variables of services that call other services: the local sidecar's outbound listener. */
export const callerEnv = {
  SIDECAR_OUTBOUND: z
    .string()
    .regex(/^[^:\s]+:\d+$/, "expected host:port")
    .default("127.0.0.1:15001"),
};
