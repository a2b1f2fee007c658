import { describe, expect, it } from "vitest";
import { LatencyEwma } from "./latency-ewma.ts";
import { pickPeakEwma, pickPowerOfTwo } from "./load-balancer.ts";

describe("pickPowerOfTwo", () => {
  it("takes the less busy of two distinct random candidates", () => {
    const endpoints = [{ outstanding: 5 }, { outstanding: 1 }, { outstanding: 9 }];
    const draws = [0.0, 0.0]; // first index 0, second index 1 (skips the first)
    expect(pickPowerOfTwo(endpoints, () => draws.shift() ?? 0)).toBe(endpoints[1]);
  });

  it("spreads load: the busiest endpoint is never picked when two others are idle", () => {
    const endpoints = [{ outstanding: 0 }, { outstanding: 0 }, { outstanding: 50 }];
    for (let i = 0; i < 200; i++) expect(pickPowerOfTwo(endpoints)).not.toBe(endpoints[2]);
  });

  it("handles zero and one candidates", () => {
    expect(pickPowerOfTwo([])).toBeUndefined();
    const only = { outstanding: 3 };
    expect(pickPowerOfTwo([only])).toBe(only);
  });
});

/** A deterministic random source (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function endpoint(latencyMs?: number, outstanding = 0) {
  const latency = new LatencyEwma(1000);
  if (latencyMs !== undefined) latency.observe(latencyMs, 0);
  return { outstanding, latency };
}

type Sim = ReturnType<typeof endpoint>;

/**
 * Sends one call every `intervalMs` for `durationMs` to endpoints answering in `latencyOf(index, at)` ms, feeding each
 * answer back as the balancer's sample; returns how many calls each endpoint got from `countFromMs` on.
 */
function simulate(
  pick: (endpoints: readonly Sim[], now: () => number) => Sim | undefined,
  options: {
    intervalMs: number;
    durationMs: number;
    countFromMs: number;
    latencyOf: (i: number, at: number) => number;
  },
): number[] {
  const endpoints = [endpoint(), endpoint()];
  const picks = endpoints.map(() => 0);
  let inFlight: { target: Sim; tookMs: number; endsAt: number }[] = [];
  for (let now = 0; now < options.durationMs; now += options.intervalMs) {
    for (const call of inFlight.filter((each) => each.endsAt <= now).sort((a, b) => a.endsAt - b.endsAt)) {
      call.target.outstanding--;
      call.target.latency.observe(call.tookMs, call.endsAt);
    }
    inFlight = inFlight.filter((each) => each.endsAt > now);
    const at = now;
    const target = pick(endpoints, () => at) as Sim;
    const index = endpoints.indexOf(target);
    const tookMs = options.latencyOf(index, now);
    target.outstanding++;
    inFlight.push({ target, tookMs, endsAt: now + tookMs });
    if (now >= options.countFromMs) picks[index] = (picks[index] ?? 0) + 1;
  }
  return picks;
}

function share(picks: number[], index: number): number {
  return (picks[index] ?? 0) / picks.reduce((sum, each) => sum + each, 0);
}

describe("pickPeakEwma", () => {
  const atStart = () => 0;

  it("prefers the faster endpoint under equal load", () => {
    const endpoints = [endpoint(50, 2), endpoint(10, 2)];
    expect(pickPeakEwma(endpoints, atStart, () => 0)).toBe(endpoints[1]);
    expect(pickPeakEwma(endpoints, atStart, () => 0.9)).toBe(endpoints[1]);
  });

  it("prefers the less loaded endpoint under equal latency", () => {
    const endpoints = [endpoint(10, 1), endpoint(10, 3)];
    expect(pickPeakEwma(endpoints, atStart, () => 0)).toBe(endpoints[0]);
    expect(pickPeakEwma(endpoints, atStart, () => 0.9)).toBe(endpoints[0]);
  });

  it("weighs latency against load: 5 calls on a 10 ms endpoint wait longer than none on a 50 ms one", () => {
    const endpoints = [endpoint(10, 5), endpoint(50, 0)];
    expect(pickPeakEwma(endpoints, atStart, () => 0)).toBe(endpoints[1]);
  });

  it("tries an unmeasured endpoint while it is idle, and gives it one call at a time until it answers", () => {
    const measured = endpoint(10, 3);
    const fresh = endpoint();
    expect(pickPeakEwma([measured, fresh], atStart, () => 0)).toBe(fresh);
    fresh.outstanding = 1;
    expect(pickPeakEwma([measured, fresh], atStart, () => 0)).toBe(measured);
    const busyFresh = endpoint(undefined, 2);
    expect(pickPeakEwma([busyFresh, fresh], atStart, () => 0)).toBe(fresh);
  });

  it("handles zero and one candidates without reading the clock", () => {
    const clock = () => {
      throw new Error("clock read");
    };
    expect(pickPeakEwma([], clock)).toBeUndefined();
    const only = endpoint(10);
    expect(pickPeakEwma([only], clock)).toBe(only);
  });

  const steady = { intervalMs: 2, durationMs: 20_000, countFromMs: 2_000 };

  it("sends a 20x slower endpoint a small share of calls, far less than least-outstanding does", () => {
    const latencyOf = (i: number) => (i === 0 ? 100 : 5);
    const random = seeded(1);
    const ewma = simulate((list, now) => pickPeakEwma(list, now, random), { ...steady, latencyOf });
    const leastOutstanding = simulate((list) => pickPowerOfTwo(list, random), { ...steady, latencyOf });
    expect(share(ewma, 0)).toBeLessThan(0.02);
    expect(share(leastOutstanding, 0)).toBeGreaterThan(3 * share(ewma, 0));
  });

  it("gives a recovered endpoint its share back once its slow samples have decayed", () => {
    const random = seeded(2);
    const latencyOf = (i: number, at: number) => (i === 0 && at < 10_000 ? 100 : 5);
    const recovered = simulate((list, now) => pickPeakEwma(list, now, random), {
      ...steady,
      countFromMs: 15_000,
      latencyOf,
    });
    expect(share(recovered, 0)).toBeGreaterThan(0.35);
    expect(share(recovered, 0)).toBeLessThan(0.65);
  });
});
