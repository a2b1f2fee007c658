// Go's time.ParseDuration and Duration.String, as Consul reads and writes durations ("10s", "1m30s", "250ms").
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a Go duration string; a JSON number is nanoseconds (as Consul reads check fields). */
export function parseDuration(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "number") return value / 1e6;
  if (typeof value !== "string") throw new Error(`invalid duration ${JSON.stringify(value)}`);
  if (value === "0") return 0;
  let rest = value;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  let total = 0;
  let offset = 0;
  PART.lastIndex = 0;
  while (offset < rest.length) {
    PART.lastIndex = offset;
    const match = PART.exec(rest);
    if (!match) throw new Error(`time: invalid duration "${value}"`);
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    offset = PART.lastIndex;
  }
  if (rest.length === 0) throw new Error(`time: invalid duration "${value}"`);
  return sign * total;
}

/** Go's Duration.String for whole milliseconds and up: "250ms", "10s", "1m0s", "1h30m0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
