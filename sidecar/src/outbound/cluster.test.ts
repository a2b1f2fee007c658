import { describe, expect, it } from "vitest";
import { MeshMetrics } from "../admin/metrics.ts";
import { parseConfig } from "../config/load.ts";
import { resolveUpstreamPolicy } from "../config/policy.ts";
import type { LoadBalancerPolicy } from "../config/schema.ts";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { Cluster } from "./cluster.ts";

const ok: AttemptOutcome = {
  code: 0,
  message: "",
  committed: true,
  neverProcessed: false,
  transportFailure: false,
  cancelled: false,
};
const unavailable: AttemptOutcome = { ...ok, code: 14, committed: false };
const cancelled: AttemptOutcome = { ...ok, code: 1, committed: false, cancelled: true };

function cluster(loadBalancer: LoadBalancerPolicy = { policy: "ewma", decayMs: 1000 }) {
  const policy = { ...resolveUpstreamPolicy(parseConfig({}).defaults, undefined), loadBalancer };
  const clock = { now: 0 };
  const built = new Cluster(
    "inventory",
    policy,
    new MeshMetrics(),
    () => clock.now,
    () => 0,
  );
  built.setEndpoints(["a:1", "b:1"]);
  const [a, b] = built.endpoints;
  if (!a || !b) throw new Error("endpoints missing");
  return { cluster: built, clock, a, b };
}

describe("Cluster latency", () => {
  it("feeds each attempt's duration to its endpoint's estimate, cancelled attempts included", () => {
    const { cluster: upstream, a } = cluster();
    upstream.record(a, ok, 12);
    expect(upstream.latencyEwmaMs(a)).toBe(12);
    upstream.record(a, cancelled, 300); // e.g. a per-try timeout: the endpoint was slow
    expect(upstream.latencyEwmaMs(a)).toBe(300);
    expect(a.outlier.consecutiveFailures).toBe(0); // outlier detection still ignores cancelled attempts
  });

  it("lets a failure raise the estimate but never lower it, so failing fast does not draw traffic", () => {
    const { cluster: upstream, a } = cluster();
    upstream.record(a, ok, 50);
    upstream.record(a, unavailable, 1);
    expect(upstream.latencyEwmaMs(a)).toBe(50);
    upstream.record(a, unavailable, 80);
    expect(upstream.latencyEwmaMs(a)).toBe(80);
    expect(a.outlier.consecutiveFailures).toBe(2);
  });

  it("balances on latency with the ewma policy and on outstanding calls alone with least-outstanding", () => {
    for (const [policy, expected] of [
      ["ewma", "b:1"],
      ["least-outstanding", "a:1"],
    ] as const) {
      const { cluster: upstream, a, b } = cluster({ policy, decayMs: 1000 });
      upstream.record(a, ok, 100);
      upstream.record(b, ok, 5);
      expect(upstream.pick()?.address).toBe(expected);
    }
  });

  it("keeps an endpoint's estimate when the endpoint set changes, and starts new endpoints unmeasured", () => {
    const { cluster: upstream, clock, a } = cluster();
    upstream.record(a, ok, 40);
    upstream.setEndpoints(["a:1", "c:1"]);
    expect(upstream.endpoints[0]).toBe(a);
    expect(upstream.latencyEwmaMs(a)).toBe(40);
    clock.now = 1000;
    expect(upstream.latencyEwmaMs(a)).toBeCloseTo(40 / Math.E, 9);
    const [, added] = upstream.endpoints;
    expect(added && upstream.latencyEwmaMs(added)).toBe(0);
  });
});
