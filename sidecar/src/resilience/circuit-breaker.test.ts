import { describe, expect, it } from "vitest";
import type { AttemptOutcome } from "../grpc/attempt-outcome.ts";
import { Status } from "../grpc/status.ts";
import { type BreakerState, CircuitBreaker, UNDESCRIBED_METHODS, UpstreamBreakers } from "./circuit-breaker.ts";

const outcome = (code: number, extra: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  code,
  message: "",
  committed: false,
  neverProcessed: false,
  transportFailure: false,
  cancelled: false,
  ...extra,
});
const config = {
  mode: "consecutive" as const,
  consecutiveFailures: 2,
  halfOpenAfterMs: 1000,
  failOn: ["UNAVAILABLE" as const],
  failureRatio: 0.5,
  windowMs: 10_000,
  minimumRequestsPerSecond: 5,
};

describe("CircuitBreaker", () => {
  it("opens on consecutive failures, fails fast, lets one probe through after halfOpenAfterMs, and closes on success", () => {
    const changes: BreakerState[] = [];
    const breaker = new CircuitBreaker(config, (state) => changes.push(state));
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.state).toBe("closed");
    breaker.record(outcome(Status.UNAVAILABLE, { transportFailure: true }), 0);
    expect(breaker.state).toBe("open");
    expect(breaker.tryPass(999)).toBe(false);
    expect(breaker.tryPass(1000)).toBe(true);
    expect(breaker.state).toBe("half_open");
    expect(breaker.tryPass(1001)).toBe(false);
    breaker.record(outcome(Status.OK), 1002);
    expect(breaker.state).toBe("closed");
    expect(changes).toEqual(["open", "half_open", "closed"]);
  });

  it("reopens when the probe fails, and counts neither statuses it is not told to nor cancelled attempts", () => {
    const breaker = new CircuitBreaker(config);
    breaker.record(outcome(Status.NOT_FOUND), 0);
    breaker.record(outcome(Status.CANCELLED, { cancelled: true, transportFailure: true }), 0);
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.state).toBe("closed");
    breaker.record(outcome(Status.UNAVAILABLE), 0);
    expect(breaker.tryPass(1000)).toBe(true);
    breaker.record(outcome(Status.UNAVAILABLE), 1500);
    expect(breaker.state).toBe("open");
    expect(breaker.tryPass(2499)).toBe(false);
    expect(breaker.tryPass(2500)).toBe(true);
  });
});

describe("UpstreamBreakers", () => {
  const charge = "/shop.payment.v1.PaymentProviderService/Charge";
  const refund = "/shop.payment.v1.PaymentProviderService/RefundCharge";

  function watched(scope: "method" | "upstream") {
    const upstream: BreakerState[] = [];
    const methods: [string, BreakerState][] = [];
    const breakers = new UpstreamBreakers(
      { ...config, scope },
      {
        upstreamChanged: (state) => upstream.push(state),
        methodChanged: (method, state) => methods.push([method, state]),
      },
    );
    return { breakers, upstream, methods };
  }

  it("with scope method, keeps one method's failures from opening another's breaker", () => {
    const { breakers, upstream, methods } = watched("method");
    const charges = breakers.breakerFor(charge, true);
    const refunds = breakers.breakerFor(refund, true);
    charges.record(outcome(Status.UNAVAILABLE), 0);
    charges.record(outcome(Status.UNAVAILABLE), 0);
    expect(charges.tryPass(1)).toBe(false);
    expect(refunds.tryPass(1)).toBe(true);
    expect(breakers.breakerFor(charge, true)).toBe(charges);
    expect(breakers.state).toBe("open");
    expect(breakers.methodStates()).toEqual({
      "shop.payment.v1.PaymentProviderService/Charge": "open",
      "shop.payment.v1.PaymentProviderService/RefundCharge": "closed",
    });
    expect(upstream).toEqual(["open"]);
    expect(methods).toEqual([
      ["shop.payment.v1.PaymentProviderService/Charge", "closed"],
      ["shop.payment.v1.PaymentProviderService/RefundCharge", "closed"],
      ["shop.payment.v1.PaymentProviderService/Charge", "open"],
    ]);
  });

  it("summarizes the upstream as its worst breaker, and closed again once every one has recovered", () => {
    const { breakers, upstream } = watched("method");
    const charges = breakers.breakerFor(charge, true);
    const refunds = breakers.breakerFor(refund, true);
    for (const breaker of [charges, refunds]) {
      breaker.record(outcome(Status.UNAVAILABLE), 0);
      breaker.record(outcome(Status.UNAVAILABLE), 0);
    }
    expect(charges.tryPass(1000)).toBe(true);
    expect(breakers.state).toBe("open");
    charges.record(outcome(Status.OK), 1000);
    expect(breakers.state).toBe("open");
    expect(refunds.tryPass(1000)).toBe(true);
    expect(breakers.state).toBe("half_open");
    refunds.record(outcome(Status.OK), 1000);
    expect(upstream).toEqual(["open", "half_open", "closed"]);
  });

  it("gives every method the descriptor sets do not describe one shared breaker, whatever its path", () => {
    const { breakers } = watched("method");
    const shared = breakers.breakerFor("/shop.payment.v1.PaymentProviderService/Invented", false);
    for (let i = 0; i < 100; i++) expect(breakers.breakerFor(`/made.Up/Method${i}`, false)).toBe(shared);
    expect(Object.keys(breakers.methodStates() ?? {})).toEqual([UNDESCRIBED_METHODS]);
  });

  it("with scope upstream, lets one method's failures fail every method fast", () => {
    const { breakers, upstream } = watched("upstream");
    const charges = breakers.breakerFor(charge, true);
    expect(breakers.breakerFor(refund, true)).toBe(charges);
    expect(breakers.breakerFor("/made.Up/Method", false)).toBe(charges);
    charges.record(outcome(Status.UNAVAILABLE), 0);
    charges.record(outcome(Status.UNAVAILABLE), 0);
    expect(breakers.breakerFor(refund, true).tryPass(1)).toBe(false);
    expect(breakers.state).toBe("open");
    expect(breakers.methodStates()).toBeUndefined();
    expect(upstream).toEqual(["open"]);
  });
});
