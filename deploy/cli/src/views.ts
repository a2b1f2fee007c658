// The views `mesh stat` and `mesh top` group routes by, and how both print their numbers. Pure.
import type { RouteCounters } from "./golden-metrics.ts";

export type StatView = "edge" | "method" | "service";

export const VIEWS: readonly StatView[] = ["edge", "method", "service"];

/** The key columns of each view. */
export const COLUMNS: Record<StatView, string[]> = {
  edge: ["from", "to"],
  method: ["from", "to", "method"],
  service: ["service"],
};

/**
 * Which row of a view a route of a service's sidecar counts in, or undefined when it does not: edges and methods are
 * what callers saw (their sidecars' outbound routes, so a call the caller's breaker refused still counts), a
 * service's row is what its own sidecars served (their inbound routes).
 */
export function rowOf(view: StatView, service: string, route: RouteCounters): string[] | undefined {
  if (view === "service") return route.direction === "inbound" ? [service] : undefined;
  if (route.direction !== "outbound") return undefined;
  return view === "edge" ? [service, route.upstream] : [service, route.upstream, route.method];
}

/** Seconds as milliseconds with two decimals, "-" without a value. */
export const ms = (seconds: number | undefined) => (seconds === undefined ? "-" : `${(seconds * 1000).toFixed(2)}ms`);

/** A success rate as a percentage, "-" without calls. */
export const percent = (share: number | undefined) => (share === undefined ? "-" : `${(share * 100).toFixed(1)}%`);
