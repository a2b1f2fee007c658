import { parseArgs } from "node:util";
import { readTracingEnv, type TracingSettings } from "@mesh/telemetry";
import { pino } from "pino";
import { checkHedging } from "./config/hedging-check.ts";
import { loadConfig } from "./config/load.ts";
import { MethodCatalog } from "./descriptors/method-catalog.ts";
import { startSidecar } from "./sidecar.ts";
import { startTracing } from "./tracing/start-tracing.ts";

const USAGE = `usage: mesh-sidecar --config <file.yaml> [--check]

  --config, -c <file>  the sidecar configuration (YAML or JSON); see sidecar/CONFIG.md
  --check              validate the configuration and descriptors, print a summary, and exit
  --help, -h           show this help

Signals: SIGTERM or SIGINT drain in-flight calls (up to drainTimeoutMs), then exit 0.
Environment: LOG_LEVEL (default info); CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN override the config's Consul.
Tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, unless
OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none; OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG choose the
sampler (default parentbased_always_on), OTEL_BSP_* tune the batching. Spans go out over OTLP/HTTP (protobuf).`;

async function main(argv: string[]): Promise<number> {
  let values: { config?: string; check?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        check: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`mesh-sidecar: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    console.error(`mesh-sidecar: --config is required\n\n${USAGE}`);
    return 2;
  }
  const log = pino({ name: "sidecar", level: process.env.LOG_LEVEL ?? "info" });
  let config: Awaited<ReturnType<typeof loadConfig>>;
  let catalog: MethodCatalog;
  let tracing: TracingSettings | undefined;
  try {
    config = await loadConfig(values.config);
    catalog = await MethodCatalog.load(config.descriptors);
    checkHedging(config, catalog);
    tracing = readTracingEnv(process.env);
  } catch (error) {
    console.error(`mesh-sidecar: ${(error as Error).message}`);
    return 1;
  }
  if (values.check) {
    const upstreams = Object.keys(config.upstreams);
    process.stdout.write(
      `config ok: ${upstreams.length} upstream(s)${upstreams.length ? ` (${upstreams.join(", ")})` : ""}, ` +
        `${catalog.services.size} protobuf service(s) described, ` +
        `mesh TLS ${config.tls.enabled ? `on (identity ${config.service}, intentions from Consul)` : "off"}, ` +
        `tracing ${tracing ? "on" : "off"}\n`,
    );
    return 0;
  }
  const sidecar = await startSidecar({
    config,
    catalog,
    log,
    tracing: tracing && (await startTracing(tracing, `${config.service ?? "mesh"}-sidecar`)),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      sidecar.drain().then(resolve, resolve);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  log.info("stopped");
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`mesh-sidecar: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
