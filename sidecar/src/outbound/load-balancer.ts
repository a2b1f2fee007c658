/** What the balancer needs of an endpoint. */
export interface Balanced {
  outstanding: number;
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
  let second = Math.floor(random() * (candidates.length - 1));
  if (second >= first) second++;
  const a = candidates[first] as T;
  const b = candidates[second] as T;
  return b.outstanding < a.outstanding ? b : a;
}
