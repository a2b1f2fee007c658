// Reading every sidecar's Prometheus text, shared by `mesh stat` (two readings over a window) and `mesh top` (a
// reading every interval). Which sidecars exist comes from Consul; each is read at its admin port's /metrics.
import { type Instance, listInstances } from "./consul.ts";
import { parseRouteCounters, type RouteCounters } from "./golden-metrics.ts";

/** One reading of every sidecar: its routes' counters by instance id, or undefined when it could not be read. */
export interface Reading {
  /** performance.now() when the reading finished, for the window's length. */
  at: number;
  instances: Instance[];
  routes: Map<string, Map<string, RouteCounters> | undefined>;
}

/** The instances whose sidecars publish metrics (registered with an admin port). */
export async function metricsInstances(): Promise<Instance[]> {
  return (await listInstances()).filter((instance) => instance.adminPort !== undefined);
}

async function readRoutes(instance: Instance): Promise<Map<string, RouteCounters> | undefined> {
  try {
    const response = await fetch(`http://${instance.address}:${instance.adminPort}/metrics`, {
      // A frozen sidecar must not stall a whole reading (mesh top redraws every couple of seconds).
      signal: AbortSignal.timeout(2000),
    });
    return response.ok ? parseRouteCounters(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads every given sidecar's /metrics at once. */
export async function readAll(instances: Instance[]): Promise<Reading> {
  const texts = await Promise.all(instances.map(readRoutes));
  return {
    at: performance.now(),
    instances,
    routes: new Map(instances.map((instance, index) => [instance.id, texts[index]])),
  };
}
