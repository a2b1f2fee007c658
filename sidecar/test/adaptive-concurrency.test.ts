import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@mesh/proto/grpc/health/v1/health_pb";
import { describe, expect, it } from "vitest";
import type { InboundLimitState } from "../src/admin/metrics.ts";
import { INBOUND_CLUSTER } from "../src/sidecar.ts";
import { adminJson, type EchoClient, type EchoServer, echoClient, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let adaptive: TestSidecar;
let fixed: TestSidecar;

const INITIAL_LIMIT = 32;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  const inbound = { listen: "127.0.0.1:0", app: app.address, maxConcurrent: 100, maxQueue: 2 };
  const limiter = { enabled: true, minLimit: 4, initialLimit: INITIAL_LIMIT, tolerance: 2, intervalMs: 50 };
  adaptive = await mesh.sidecar({ inbound: { ...inbound, adaptiveConcurrency: limiter } });
  fixed = await mesh.sidecar({
    inbound: { ...inbound, maxConcurrent: 24, adaptiveConcurrency: { ...limiter, enabled: false } },
  });
});

interface Outcome {
  ok: number;
  rejected: ConnectError[];
}

async function concurrently(calls: number, call: () => Promise<unknown>): Promise<Outcome> {
  const results = await Promise.allSettled(Array.from({ length: calls }, call));
  const rejected = results.flatMap((result) =>
    result.status === "rejected" ? [ConnectError.from(result.reason)] : [],
  );
  return { ok: calls - rejected.length, rejected };
}

/**
 * Fast calls for a few of the limiter's intervals (its baseline), then up to `rounds` rounds of slow calls, all at
 * once; the rounds end with the first in which a call was shed. `during` runs while each round fills the limit.
 */
async function fastThenSlow(echo: EchoClient, rounds: number, during?: () => Promise<unknown>) {
  const until = performance.now() + 200;
  let fast = 0;
  for (; performance.now() < until; fast += 8) await concurrently(8, () => echo.echo({}));
  const outcomes: Outcome[] = [];
  for (let round = 0; round < rounds; round++) {
    const slow = concurrently(24, () => echo.echo({ delayMs: 150 }));
    await during?.();
    const outcome = await slow;
    outcomes.push(outcome);
    if (outcome.rejected.length > 0) break;
  }
  return {
    fast,
    ok: outcomes.reduce((sum, outcome) => sum + outcome.ok, 0),
    rejected: outcomes.flatMap((outcome) => outcome.rejected),
  };
}

async function metric(sidecar: TestSidecar, name: string): Promise<number> {
  const text = await (await fetch(`${sidecar.admin}/metrics`)).text();
  const line = text.split("\n").find((each) => each.startsWith(`${name} `) || each.startsWith(`${name}{`));
  return Number(line?.split(" ").at(-1));
}

describe("adaptive concurrency at the inbound listener", () => {
  it("lowers the limit when the app slows down and sheds the calls beyond it at once, marked as never processed", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${adaptive.inbound}` }));
    const checks: HealthCheckResponse_ServingStatus[] = [];
    const before = app.received.get("Echo") ?? 0;

    // A round's calls end together, so the limit falls a round or two behind the load: how many rounds it takes to
    // shed depends on the machine's speed. The rounds end at the first shed call, because a limiter held at its
    // minimum for longer measures its baseline again, on the now slow app.
    const { fast, ok, rejected } = await fastThenSlow(echoClient(adaptive.inbound), 8, async () => {
      checks.push((await health.check({})).status);
    });

    expect(rejected.length).toBeGreaterThan(0);
    for (const error of rejected) {
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toMatch(
        /^the app is at its adaptive concurrency limit \(\d+ in flight and \d+ queued\)$/,
      );
      expect(error.metadata.get("x-mesh-shed")).toBe("concurrency-limit");
    }
    // A shed call never reached the app.
    expect((app.received.get("Echo") ?? 0) - before).toBe(fast + ok);
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.every((status) => status === HealthCheckResponse_ServingStatus.SERVING)).toBe(true);

    expect(await metric(adaptive, "mesh_inbound_concurrency_limit")).toBeLessThan(INITIAL_LIMIT);
    expect(await metric(adaptive, 'mesh_inbound_shed_total{reason="concurrency_limit"}')).toBe(rejected.length);
    const clusters = await adminJson<Record<string, InboundLimitState>>(adaptive, "/clusters");
    const inbound = clusters[INBOUND_CLUSTER] as InboundLimitState;
    expect(inbound.limit).toBeLessThan(INITIAL_LIMIT);
    expect(inbound.shed).toBe(rejected.length);
    expect(inbound.baselineMs).toBeLessThan(50);
    expect(inbound.recentMs).toBeGreaterThanOrEqual(100);
    expect([inbound.inFlight, inbound.queued]).toEqual([0, 0]);
  });

  it("with adaptive concurrency off, sheds nothing below maxConcurrent plus the queue", async () => {
    const { rejected } = await fastThenSlow(echoClient(fixed.inbound), 3);
    expect(rejected).toEqual([]);
    expect(await metric(fixed, "mesh_inbound_concurrency_limit")).toBe(24);
    const { [INBOUND_CLUSTER]: inbound } = await adminJson<Record<string, InboundLimitState>>(fixed, "/clusters");
    expect(inbound).toEqual({ limit: 24, inFlight: 0, queued: 0, shed: 0, baselineMs: null, recentMs: null });
  });
});
