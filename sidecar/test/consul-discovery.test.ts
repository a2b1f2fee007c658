import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type RunningConsulDev, startConsulDev } from "@mesh/consul-dev";
import { freePort } from "@mesh/embedded";
import { steadyLoad } from "@mesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminJson, type ClustersView, echoClient, startTestSidecar, type TestSidecar } from "./harness.ts";

// Two instances of a service, each an app process behind its own sidecar registered in consul-dev, and a caller
// behind a third sidecar that discovers them; no endpoint is configured anywhere. Mesh TLS is off here (plaintext
// discovery and the gRPC check); mtls.test.ts runs discovery with it.
const ECHO_MAIN = resolve(import.meta.dirname, "../../services/kit/src/testing/echo-main.ts");

interface Instance {
  name: string;
  port: number;
  app?: ChildProcess;
  sidecar: TestSidecar;
}

let consul: RunningConsulDev;
let caller: TestSidecar;
const instances: Instance[] = [];

async function startApp(instance: Instance) {
  const child = spawn(process.execPath, ["--import", "tsx", ECHO_MAIN, String(instance.port), instance.name], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, LOG_LEVEL: "silent" },
  });
  await once(child.stdout as NodeJS.ReadableStream, "data");
  instance.app = child;
}

const consulConfig = () => ({
  address: consul.address,
  checkIntervalMs: 1000,
  checkTimeoutMs: 500,
  watchMinIntervalMs: 50,
});

async function healthyCount(): Promise<number> {
  const entries = (await (await fetch(`${consul.url}/v1/health/service/echo?passing`)).json()) as unknown[];
  return entries.length;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(100);
  }
}

const callerEndpoints = async () => (await adminJson<ClustersView>(caller, "/clusters")).echo?.endpoints.length ?? 0;

beforeAll(async () => {
  consul = await startConsulDev({ port: 0 });
  for (const name of ["a", "b"]) {
    const instance: Instance = { name, port: await freePort(), sidecar: undefined as never };
    await startApp(instance);
    instance.sidecar = await startTestSidecar({
      service: "echo",
      inbound: { listen: "127.0.0.1:0", app: `127.0.0.1:${instance.port}`, services: ["mesh.echo.v1.EchoService"] },
      consul: consulConfig(),
      tls: { enabled: false },
    });
    instances.push(instance);
  }
  caller = await startTestSidecar({
    consul: { ...consulConfig(), register: false },
    tls: { enabled: false },
    upstreams: { echo: {} },
  });
  await until(async () => (await healthyCount()) === 2 && (await callerEndpoints()) === 2);
}, 60_000);

afterAll(async () => {
  await caller?.close();
  for (const instance of instances) {
    await instance.sidecar?.close();
    instance.app?.kill("SIGKILL");
  }
  await consul?.stop();
});

async function spread(calls: number) {
  const echo = echoClient(caller.outbound);
  const served: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const reply = await echo.echo({ message: String(i) });
    served[reply.servedBy] = (served[reply.servedBy] ?? 0) + 1;
  }
  return served;
}

describe("discovery through consul-dev", () => {
  it("registers each sidecar with its address, Meta and a gRPC check through the sidecar", async () => {
    const [entry] = (await (await fetch(`${consul.url}/v1/health/service/echo`)).json()) as {
      Service: { ID: string; Port: number; Meta: Record<string, string> };
      Checks: { Type: string; Status: string }[];
    }[];
    expect(entry?.Service.ID).toMatch(/^echo-.+-\d+$/);
    expect(entry?.Service.Meta["grpc-services"]).toBe("mesh.echo.v1.EchoService");
    expect(entry?.Checks.map((check) => check.Type)).toEqual(["", "grpc"]);
  });

  it("routes by the contract advertised in Consul and spreads calls over both instances", async () => {
    const served = await spread(40);
    expect(Object.keys(served).sort()).toEqual(["a", "b"]);
  });

  it("loses no idempotent call when an app is killed, stops using it, and uses it again once it is back", async () => {
    const echo = echoClient(caller.outbound);
    const load = steadyLoad(() => echo.echo({ message: "steady" }, { timeoutMs: 5000 }));
    const [victim] = instances as [Instance];
    await sleep(300);
    victim.app?.kill("SIGKILL");
    await until(async () => (await healthyCount()) === 1 && (await callerEndpoints()) === 1);
    const afterKill = await spread(20);
    expect(afterKill).toEqual({ b: 20 });

    await startApp(victim);
    await until(async () => (await healthyCount()) === 2 && (await callerEndpoints()) === 2);
    const { calls, failures, errors } = await load.stop();
    expect({ failures, errors }).toEqual({ failures: 0, errors: [] });
    expect(calls).toBeGreaterThan(50);
    // Back in Consul, the restarted instance takes calls again (the latency-aware balancer may prefer it for now).
    expect(Object.keys(await spread(40))).toContain("a");
  }, 60_000);

  it("deregisters on drain while its in-flight call completes", async () => {
    const [, survivor] = instances as [Instance, Instance];
    const inFlight = echoClient(survivor.sidecar.inbound).echo({ message: "last", delayMs: 500 });
    await sleep(100);
    const drained = survivor.sidecar.sidecar.drain();
    expect((await inFlight).message).toBe("last");
    await drained;
    const ids = (
      (await (await fetch(`${consul.url}/v1/health/service/echo`)).json()) as { Service: { ID: string } }[]
    ).map((entry) => entry.Service.ID);
    expect(ids).not.toContain(survivor.sidecar.sidecar.registration?.ID);
    expect(ids).toHaveLength(1);
  });
});

describe("when Consul goes away", () => {
  it("keeps the last known endpoints, counts the failures, and keeps serving", async () => {
    await until(async () => (await callerEndpoints()) === 1);
    await consul.stop();
    await sleep(1500);
    expect(await callerEndpoints()).toBe(1);
    const served = await spread(10);
    expect(served).toEqual({ a: 10 });
    const metrics = await (await fetch(`${caller.admin}/metrics`)).text();
    expect(metrics).toMatch(/mesh_discovery_errors_total\{upstream="echo"\} [1-9]/);
    expect(metrics).toContain('mesh_upstream_endpoints{upstream="echo"} 1');
  });
});
