import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { ConsulClient, HealthEntry } from "./consul-client.ts";
import { ConsulEndpoints } from "./consul-endpoints.ts";

const entry = (port: number): HealthEntry => ({
  Node: { Address: "10.0.0.1" },
  Service: { ID: `svc-${port}`, Address: "", Port: port, Meta: { "grpc-services": "a.v1.A" } },
});

/** A scripted agent that answers at once (as a misbehaving or non-blocking server would). */
function scriptedClient(indexes: number[]) {
  const requested: number[] = [];
  let call = 0;
  const client = {
    async passingInstances(_service: string, index: number) {
      requested.push(index);
      const next = indexes[Math.min(call++, indexes.length - 1)] as number;
      return { value: [entry(next < 4 ? 1 : 2)], index: next };
    },
  } as unknown as ConsulClient;
  return { client, requested };
}

describe("ConsulEndpoints", () => {
  it("paces requests when the index does not move, instead of re-polling at once", async () => {
    const { client, requested } = scriptedClient([7]);
    const source = new ConsulEndpoints(client, { waitMs: 30_000, minIntervalMs: 100, log: pino({ level: "silent" }) });
    const stop = source.watch("svc", () => {});
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop();
    expect(requested.length).toBeGreaterThanOrEqual(3);
    expect(requested.length).toBeLessThanOrEqual(7);
  });

  it("resets to index 0 when the index goes backwards, reports endpoint changes and advertised services", async () => {
    const { client, requested } = scriptedClient([5, 9, 3, 4]);
    const changes: (readonly string[])[] = [];
    const services: string[] = [];
    const source = new ConsulEndpoints(client, {
      waitMs: 30_000,
      minIntervalMs: 10,
      log: pino({ level: "silent" }),
      onServices: (_, advertised) => services.push(...advertised),
    });
    const stop = source.watch("svc", (addresses) => changes.push(addresses));
    await new Promise((resolve) => setTimeout(resolve, 150));
    stop();
    expect(requested.slice(0, 5)).toEqual([0, 5, 9, 0, 4]);
    expect(changes[0]).toEqual(["10.0.0.1:2"]);
    expect(changes).toContainEqual(["10.0.0.1:1"]);
    expect(services).toContain("a.v1.A");
  });
});
