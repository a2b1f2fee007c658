// The dashboard's options: defaults, and validation (zod) of what comes from argv, the environment and code, with
// messages that name the flag, the variable or the key (as the sidecar's config errors name the key) and the value.
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseDuration } from "./api/jaeger.ts";

export interface DashboardOptions {
  /** 0 = a free port. */
  port: number;
  host: string;
  /** Consul's HTTP address (host:port or URL), as CONSUL_HTTP_ADDR. */
  consulAddr: string;
  consulToken: string | undefined;
  maxTraces: number;
  maxSpansPerTrace: number;
  /** Largest OTLP request body accepted, bytes (after gunzip too). */
  bodyLimit: number;
  scrapeIntervalMs: number;
  /** The sliding window of the golden metrics. */
  windowMs: number;
  scrapeTimeoutMs: number;
  /** NATS (NATS_URL, comma-separated for a cluster) whose dead-letter stream the page shows; none: not shown. */
  natsUrl: string | undefined;
  /**
   * Where to ask the order service for stuck sagas, plaintext (host:port: the app, or a listener that routes to it);
   * none: a healthy instance from Consul, over mutual TLS as `identity`.
   */
  orderService: string | undefined;
  /** The mesh identity the dashboard calls the order service as (the intentions must allow it). */
  identity: string;
}

export const DEFAULT_OPTIONS: DashboardOptions = {
  port: 16686,
  host: "127.0.0.1",
  consulAddr: "127.0.0.1:8500",
  consulToken: undefined,
  maxTraces: 2000,
  maxSpansPerTrace: 1000,
  bodyLimit: 8 * 1024 * 1024,
  scrapeIntervalMs: 2000,
  windowMs: 30_000,
  scrapeTimeoutMs: 1500,
  natsUrl: undefined,
  orderService: undefined,
  identity: "mesh-dashboard",
};

/** Options that cannot be used; the message names each one. */
export class OptionsError extends Error {
  constructor(problems: string[]) {
    super(`invalid dashboard options:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
    this.name = "OptionsError";
  }
}

const BYTE_UNITS: Record<string, number> = { "": 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2 };

/** Option values arrive as text from argv and the environment, as numbers from code. */
const port = z.coerce
  .number({ error: "must be an integer from 0 to 65535" })
  .int("must be an integer from 0 to 65535")
  .min(0, "must be an integer from 0 to 65535")
  .max(65535, "must be an integer from 0 to 65535");
const count = z.coerce
  .number({ error: "must be a positive integer" })
  .int("must be a positive integer")
  .positive("must be a positive integer");
const text = z.string().trim().min(1, "must be a non-empty string");
const bytes = z.union([z.number(), z.string()]).transform((value, context) => {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(String(value).trim());
  const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase()];
  const size = match && unit ? Number(match[1]) * unit : Number.NaN;
  if (Number.isSafeInteger(size) && size > 0) return size;
  context.addIssue({ code: "custom", message: "must be a positive size in bytes (e.g. 8388608 or 8MiB)" });
  return z.NEVER;
});
/** Milliseconds given as a number, or text such as 500ms, 2s or 1m. */
const duration = z.union([z.number(), z.string()]).transform((value, context) => {
  const ms = typeof value === "number" ? value : parseDuration(value.trim());
  if (ms !== undefined && ms > 0) return ms;
  context.addIssue({ code: "custom", message: "must be a positive duration like 500ms, 2s or 1m" });
  return z.NEVER;
});

const SCHEMA = z.strictObject({
  port,
  host: text,
  consulAddr: text,
  consulToken: text.optional(),
  maxTraces: count,
  maxSpansPerTrace: count,
  bodyLimit: bytes,
  scrapeIntervalMs: duration,
  windowMs: duration,
  scrapeTimeoutMs: duration,
  natsUrl: text.optional(),
  orderService: text.optional(),
  identity: text,
});

/** Where each option comes from on the command line and in the environment. */
const SOURCES: Record<keyof DashboardOptions, { flag: string; env: string; help: string }> = {
  port: { flag: "port", env: "DASHBOARD_PORT", help: "port to listen on, 0 = a free one" },
  host: { flag: "host", env: "DASHBOARD_HOST", help: "address to listen on" },
  consulAddr: { flag: "consul", env: "CONSUL_HTTP_ADDR", help: "Consul agent, host:port or URL" },
  consulToken: { flag: "consul-token", env: "CONSUL_HTTP_TOKEN", help: "Consul ACL token" },
  maxTraces: { flag: "max-traces", env: "DASHBOARD_MAX_TRACES", help: "traces kept in memory" },
  maxSpansPerTrace: { flag: "max-spans-per-trace", env: "DASHBOARD_MAX_SPANS_PER_TRACE", help: "spans kept per trace" },
  bodyLimit: { flag: "body-limit", env: "DASHBOARD_BODY_LIMIT", help: "largest OTLP body, bytes" },
  scrapeIntervalMs: {
    flag: "scrape-interval",
    env: "DASHBOARD_SCRAPE_INTERVAL",
    help: "how often sidecars are scraped (e.g. 2s)",
  },
  windowMs: { flag: "window", env: "DASHBOARD_WINDOW", help: "golden-metrics window (e.g. 30s)" },
  scrapeTimeoutMs: { flag: "scrape-timeout", env: "DASHBOARD_SCRAPE_TIMEOUT", help: "timeout of one sidecar request" },
  natsUrl: { flag: "nats", env: "NATS_URL", help: "NATS whose dead letters to show (none: not shown)" },
  orderService: {
    flag: "order-service",
    env: "DASHBOARD_ORDER_SERVICE",
    help: "order service host:port for stuck sagas, plaintext (default: from Consul, mutual TLS)",
  },
  identity: { flag: "identity", env: "DASHBOARD_IDENTITY", help: "mesh identity to call the order service as" },
};

/** Validates raw values; `nameOf` says how the message names an option (its flag, variable or key). */
function validate(raw: Record<string, unknown>, nameOf: (key: string) => string): DashboardOptions {
  const result = SCHEMA.safeParse(raw);
  if (result.success) {
    const { consulToken, natsUrl, orderService } = result.data;
    return { ...result.data, consulToken, natsUrl, orderService };
  }
  throw new OptionsError(
    result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? "");
      return `${nameOf(key)}: ${issue.message} (got ${JSON.stringify(raw[key])})`;
    }),
  );
}

/** Options from argv flags over environment variables over the defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): DashboardOptions {
  const specs = Object.entries(SOURCES) as [keyof DashboardOptions, (typeof SOURCES)[keyof DashboardOptions]][];
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(specs.map(([, source]) => [source.flag, { type: "string" as const }])),
    strict: false,
    allowPositionals: true,
  });
  const known = new Set(specs.map(([, source]) => source.flag));
  const problems = Object.keys(values)
    .filter((flag) => !known.has(flag))
    .map((flag) => `--${flag}: unknown option (try --help)`);
  const raw: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  const fromFlag = new Set<string>();
  for (const [key, source] of specs) {
    const value = values[source.flag];
    if (value === true) problems.push(`--${source.flag}: needs a value`);
    else if (typeof value === "string") {
      raw[key] = value;
      fromFlag.add(key);
    } else if (env[source.env]) raw[key] = env[source.env];
  }
  if (problems.length) throw new OptionsError(problems);
  return validate(raw, (key) => {
    const source = SOURCES[key as keyof DashboardOptions];
    return fromFlag.has(key) ? `--${source.flag}` : source.env;
  });
}

/** Checks options given in code (startDashboard) the same way, naming the option. */
export function checkOptions(given: Partial<DashboardOptions>): DashboardOptions {
  return validate({ ...DEFAULT_OPTIONS, ...given }, (key) => key);
}

export function usage(): string {
  const lines = Object.values(SOURCES).map(
    (source) => `  --${source.flag.padEnd(20)} ${source.env.padEnd(30)} ${source.help}`,
  );
  return `usage: mesh-dashboard [options]   (flag, environment variable, meaning)\n${lines.join("\n")}\n`;
}
