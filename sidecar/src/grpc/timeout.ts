// grpc-timeout: at most 8 digits and a unit (H, M, S, m, u, n), as the gRPC HTTP/2 protocol specifies.
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;

/** The timeout in milliseconds, undefined when absent, or null when the header is malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  const match = TIMEOUT.exec(value);
  if (!match) return null;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Formats a remaining time for the wire, choosing the finest unit that fits in 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const remaining = Math.max(0, ms);
  if (remaining < 100_000) return `${Math.ceil(remaining * 1000)}u`;
  if (remaining < 100_000_000) return `${Math.ceil(remaining)}m`;
  if (remaining < 100_000_000_000) return `${Math.ceil(remaining / 1000)}S`;
  return `${Math.min(99_999_999, Math.ceil(remaining / 60_000))}M`;
}
