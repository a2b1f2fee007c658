// A sidecar's /clusters answer (sidecar/src/sidecar.ts clusterView): per upstream the breaker state, the bulkhead
// and the endpoints with their ejections. The dashboard shows the breaker states and the ejected endpoints.
import { INBOUND_CLUSTER } from "@mesh/sidecar";

export type BreakerState = "closed" | "open" | "half_open";

export interface UpstreamState {
  breaker: BreakerState | "unknown";
  endpoints: number;
  ejected: number;
}

const STATES = new Set(["closed", "open", "half_open"]);

/** The upstreams of a /clusters body; anything unexpected in it is left out rather than failing the page. */
export function parseClusters(body: unknown): Record<string, UpstreamState> {
  const upstreams: Record<string, UpstreamState> = {};
  if (body === null || typeof body !== "object" || Array.isArray(body)) return upstreams;
  for (const [name, cluster] of Object.entries(body as Record<string, unknown>)) {
    // Upstreams only: the inbound listener's own entry (`inbound|app`) has no breaker or endpoints.
    if (name === INBOUND_CLUSTER || cluster === null || typeof cluster !== "object") continue;
    const { breaker, endpoints } = cluster as { breaker?: unknown; endpoints?: unknown };
    const list = Array.isArray(endpoints) ? (endpoints as { ejected?: unknown }[]) : [];
    upstreams[name] = {
      breaker: typeof breaker === "string" && STATES.has(breaker) ? (breaker as BreakerState) : "unknown",
      endpoints: list.length,
      ejected: list.filter((endpoint) => endpoint?.ejected === true).length,
    };
  }
  return upstreams;
}

const SEVERITY: Record<UpstreamState["breaker"], number> = { closed: 0, unknown: 0, half_open: 1, open: 2 };

/** The worse of two breaker states (open over half-open over closed). */
export function worseBreaker(
  a: UpstreamState["breaker"] | undefined,
  b: UpstreamState["breaker"],
): UpstreamState["breaker"] {
  return a === undefined || SEVERITY[b] > SEVERITY[a] ? b : a;
}
