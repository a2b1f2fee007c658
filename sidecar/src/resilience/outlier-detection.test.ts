import { describe, expect, it } from "vitest";
import { newOutlierState, OutlierDetector } from "./outlier-detection.ts";

const policy = { consecutiveFailures: 2, baseEjectionMs: 1000, maxEjectionMs: 2500, maxEjectionPercent: 50 };

describe("OutlierDetector", () => {
  it("ejects after consecutive failures, for longer each time up to the maximum", () => {
    let now = 0;
    const detector = new OutlierDetector(policy, () => now);
    const [a, b] = [newOutlierState(), newOutlierState()];
    const all = [a, b];
    expect(detector.recordFailure(a, all)).toBe(false);
    expect(detector.recordFailure(a, all)).toBe(true);
    expect(detector.isEjected(a)).toBe(true);
    now = 1001;
    expect(detector.isEjected(a)).toBe(false);
    detector.recordFailure(a, all);
    detector.recordFailure(a, all);
    expect(a.ejectedUntil - now).toBe(2000);
    now += 2001;
    detector.recordFailure(a, all);
    detector.recordFailure(a, all);
    expect(a.ejectedUntil - now).toBe(2500);
  });

  it("resets the streak on success and never ejects past the allowed share", () => {
    const detector = new OutlierDetector(policy, () => 0);
    const [a, b] = [newOutlierState(), newOutlierState()];
    detector.recordFailure(a, [a, b]);
    detector.recordSuccess(a);
    expect(detector.recordFailure(a, [a, b])).toBe(false);
    expect(detector.recordFailure(a, [a, b])).toBe(true);
    detector.recordFailure(b, [a, b]);
    expect(detector.recordFailure(b, [a, b])).toBe(false);
  });
});
