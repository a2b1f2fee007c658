import type { OutlierDetectionPolicy } from "../config/schema.ts";

/** What outlier detection tracks of one endpoint. */
export interface OutlierState {
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
}

export function newOutlierState(): OutlierState {
  return { consecutiveFailures: 0, ejections: 0, ejectedUntil: 0 };
}

/**
 * Ejects endpoints that fail in a row (as Envoy's consecutive-5xx detection does): the n-th ejection of an
 * endpoint lasts n times the base, up to a maximum, and never more than maxEjectionPercent of endpoints are out.
 * A success resets the streak; an ejected endpoint returns by itself when its time is up.
 */
export class OutlierDetector {
  constructor(
    private readonly policy: OutlierDetectionPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  isEjected(state: OutlierState): boolean {
    return state.ejectedUntil > this.now();
  }

  recordSuccess(state: OutlierState): void {
    state.consecutiveFailures = 0;
  }

  /** Records a failure; returns true when it ejected the endpoint. */
  recordFailure(state: OutlierState, all: readonly OutlierState[]): boolean {
    state.consecutiveFailures++;
    if (state.consecutiveFailures < this.policy.consecutiveFailures || this.isEjected(state)) return false;
    const ejected = all.filter((each) => this.isEjected(each)).length;
    if (((ejected + 1) / all.length) * 100 > this.policy.maxEjectionPercent) return false;
    state.ejections++;
    state.consecutiveFailures = 0;
    state.ejectedUntil = this.now() + Math.min(this.policy.baseEjectionMs * state.ejections, this.policy.maxEjectionMs);
    return true;
  }
}
