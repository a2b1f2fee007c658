// The dashboard's options: defaults, and validation of what comes from argv and the environment, with messages that
// name the flag and the variable (as the sidecar's config errors name the key) and the value given.
import { parseArgs } from "node:util";
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
};

/** Options that cannot be used; the message names each one. */
export class OptionsError extends Error {
  constructor(problems: string[]) {
    super(`invalid dashboard options:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
    this.name = "OptionsError";
  }
}

type Kind = "port" | "count" | "bytes" | "duration" | "text";

interface Spec {
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

const SPECS: Record<keyof DashboardOptions, Spec> = {
  port: { flag: "port", env: "DASHBOARD_PORT", kind: "port", help: "port to listen on, 0 = a free one" },
  host: { flag: "host", env: "DASHBOARD_HOST", kind: "text", help: "address to listen on" },
  consulAddr: { flag: "consul", env: "CONSUL_HTTP_ADDR", kind: "text", help: "Consul agent, host:port or URL" },
  consulToken: { flag: "consul-token", env: "CONSUL_HTTP_TOKEN", kind: "text", help: "Consul ACL token" },
  maxTraces: { flag: "max-traces", env: "DASHBOARD_MAX_TRACES", kind: "count", help: "traces kept in memory" },
  maxSpansPerTrace: {
    flag: "max-spans-per-trace",
    env: "DASHBOARD_MAX_SPANS_PER_TRACE",
    kind: "count",
    help: "spans kept per trace",
  },
  bodyLimit: { flag: "body-limit", env: "DASHBOARD_BODY_LIMIT", kind: "bytes", help: "largest OTLP body, bytes" },
  scrapeIntervalMs: {
    flag: "scrape-interval",
    env: "DASHBOARD_SCRAPE_INTERVAL",
    kind: "duration",
    help: "how often sidecars are scraped (e.g. 2s)",
  },
  windowMs: { flag: "window", env: "DASHBOARD_WINDOW", kind: "duration", help: "golden-metrics window (e.g. 30s)" },
  scrapeTimeoutMs: {
    flag: "scrape-timeout",
    env: "DASHBOARD_SCRAPE_TIMEOUT",
    kind: "duration",
    help: "timeout of one sidecar request",
  },
};

const BYTE_UNITS: Record<string, number> = { "": 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2 };

function convert(kind: Kind, text: string): number | string | undefined {
  switch (kind) {
    case "text":
      return text === "" ? undefined : text;
    case "duration": {
      const ms = parseDuration(text);
      return ms !== undefined && ms > 0 ? ms : undefined;
    }
    case "bytes": {
      const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
      const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase()];
      const value = match && unit ? Number(match[1]) * unit : Number.NaN;
      return Number.isSafeInteger(value) && value > 0 ? value : undefined;
    }
    default: {
      const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
      if (kind === "port") return value >= 0 && value <= 65535 ? value : undefined;
      return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
    }
  }
}

const EXPECTED: Record<Kind, string> = {
  port: "an integer from 0 to 65535",
  count: "a positive integer",
  bytes: "a positive size in bytes (e.g. 8388608 or 8MiB)",
  duration: "a positive duration like 500ms, 2s or 1m",
  text: "a non-empty string",
};

/** Options from argv flags over environment variables over the defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): DashboardOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.values(SPECS).map((spec) => [spec.flag, { type: "string" as const }])),
    strict: false,
    allowPositionals: true,
  });
  const known = new Set(Object.values(SPECS).map((spec) => spec.flag));
  const problems = Object.keys(values)
    .filter((flag) => !known.has(flag))
    .map((flag) => `--${flag}: unknown option (try --help)`);
  const options: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (const [key, spec] of Object.entries(SPECS)) {
    const fromFlag = values[spec.flag];
    const raw = typeof fromFlag === "string" ? fromFlag : env[spec.env];
    if (raw === undefined) continue;
    if (fromFlag === true) {
      problems.push(`--${spec.flag}: needs a value`);
      continue;
    }
    const value = convert(spec.kind, raw);
    const source = typeof fromFlag === "string" ? `--${spec.flag}` : spec.env;
    if (value === undefined) problems.push(`${source}: must be ${EXPECTED[spec.kind]} (got ${JSON.stringify(raw)})`);
    else options[key] = value;
  }
  if (problems.length) throw new OptionsError(problems);
  return options as unknown as DashboardOptions;
}

/** Checks options given in code (startDashboard) the same way, naming the option. */
export function checkOptions(given: Partial<DashboardOptions>): DashboardOptions {
  const options = { ...DEFAULT_OPTIONS, ...given };
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(SPECS) as [keyof DashboardOptions, Spec][]) {
    const value = options[key];
    if (key === "consulToken" && value === undefined) continue;
    const ok =
      spec.kind === "text"
        ? typeof value === "string" && value !== ""
        : typeof value === "number" &&
          convert(spec.kind === "duration" ? "count" : spec.kind, String(value)) !== undefined;
    if (!ok)
      problems.push(
        `${key}: must be ${EXPECTED[spec.kind === "duration" ? "count" : spec.kind]} (got ${JSON.stringify(value)})`,
      );
  }
  if (problems.length) throw new OptionsError(problems);
  return options;
}

export function usage(): string {
  const lines = Object.values(SPECS).map((spec) => `  --${spec.flag.padEnd(20)} ${spec.env.padEnd(30)} ${spec.help}`);
  return `usage: mesh-dashboard [options]   (flag, environment variable, meaning)\n${lines.join("\n")}\n`;
}
