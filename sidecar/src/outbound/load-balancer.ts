import type { LatencyEwma } from "./latency-ewma.ts";

/** What the balancer needs of an endpoint. */
export interface Balanced {
  outstanding: number;
}

/** What the latency-aware balancer also needs: the endpoint's latency estimate. */
export interface LatencyBalanced extends Balanced {
  readonly latency: LatencyEwma;
}

/**
 * Power of two choices on least outstanding requests: pick two candidates at random and take the less busy one.
 * Nearly as good as least-loaded over all endpoints, without scanning them, and without herding onto one.
 */
export function pickPowerOfTwo<T extends Balanced>(
  candidates: readonly T[],
  random: () => number = Math.random,
): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const first = Math.floor(random() * candidates.length);
  const a = candidates[first] as T;
  const b = candidates[otherIndex(candidates.length, first, random)] as T;
  return b.outstanding < a.outstanding ? b : a;
}

/**
 * Power of two choices on latency times load (Linkerd's and Finagle's peak-EWMA balancer): the candidate whose next
 * call is expected to wait less wins, so a slow endpoint loses traffic before it fails. Equal costs (all idle and
 * unmeasured, or all busy and unmeasured) fall back to the less busy candidate.
 */
export function pickPeakEwma<T extends LatencyBalanced>(
  candidates: readonly T[],
  now: () => number,
  random: () => number = Math.random,
): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const first = Math.floor(random() * candidates.length);
  const a = candidates[first] as T;
  const b = candidates[otherIndex(candidates.length, first, random)] as T;
  const at = now();
  const costA = cost(a, at);
  const costB = cost(b, at);
  return costB < costA || (costB === costA && b.outstanding < a.outstanding) ? b : a;
}

/**
 * An endpoint's latency estimate times the calls it would then have. An endpoint not measured yet costs nothing while
 * idle, so it gets tried, and more than any measured one while a call is on it, so it takes one call at a time until
 * its first answer tells how fast it is (Finagle's rule).
 */
function cost(endpoint: LatencyBalanced, now: number): number {
  const latency = endpoint.latency.estimate(now);
  if (latency === 0 && endpoint.outstanding > 0) return Number.POSITIVE_INFINITY;
  return latency * (endpoint.outstanding + 1);
}

/** A random index other than `first`, uniform over the rest. */
function otherIndex(length: number, first: number, random: () => number): number {
  const index = Math.floor(random() * (length - 1));
  return index >= first ? index + 1 : index;
}
