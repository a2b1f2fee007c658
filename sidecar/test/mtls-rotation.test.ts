import { setTimeout as sleep } from "node:timers/promises";
import { createTestAuthority, type RunningConsulDev } from "@mesh/consul-dev";
import { steadyLoad } from "@mesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminJson,
  ECHO_SERVICE,
  type EchoServer,
  echoClient,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";
import { eventually, putIntention, startMeshConsul, useAuthority } from "./mesh-tls.ts";

// Leaves that live 4 s (the agent renews them at half their life) and a root rotation, all under steady load.
let consul: RunningConsulDev;
let trustDomain: string;
let app: EchoServer;
let echo: TestSidecar;
let web: TestSidecar;

interface Certs {
  serial: string;
  roots: number;
}

beforeAll(async () => {
  ({ consul, trustDomain } = await startMeshConsul({ leafCertTtlMs: 4000 }));
  await putIntention(consul, "*", "*", { Action: "deny" });
  await putIntention(consul, "web", "echo", { Action: "allow" });
  [app] = (await startEchoServers(1)) as [EchoServer];
  const consulConfig = { address: consul.address, checkIntervalMs: 1000, checkTimeoutMs: 500, watchMinIntervalMs: 50 };
  echo = await startTestSidecar({
    service: "echo",
    inbound: { listen: "127.0.0.1:0", app: app.address, services: [ECHO_SERVICE] },
    consul: consulConfig,
  });
  web = await startTestSidecar({
    service: "web",
    consul: { ...consulConfig, register: false },
    upstreams: { echo: {} },
  });
  await eventually(() => echoClient(web.outbound).echo({ message: "ready" }), 15_000);
}, 60_000);

afterAll(async () => {
  await web?.close();
  await echo?.close();
  await app?.shutdown(100);
  await consul?.stop();
});

/** Waits until a sidecar's /certs satisfies the condition. */
async function waitCerts(sidecar: TestSidecar, condition: (certs: Certs) => boolean, timeoutMs = 15_000) {
  return eventually(async () => {
    const certs = await adminJson<Certs>(sidecar, "/certs");
    if (!condition(certs)) throw new Error(`certs not there yet: ${JSON.stringify(certs)}`);
    return certs;
  }, timeoutMs);
}

describe("certificates change under steady load", () => {
  it("loses no call through two leaf renewals and a root rotation", async () => {
    const client = echoClient(web.outbound);
    const load = steadyLoad(() => client.echo({ message: "steady" }, { timeoutMs: 5000 }));
    const seen = new Set<string>();
    for (const sidecar of [echo, web]) seen.add((await adminJson<Certs>(sidecar, "/certs")).serial);
    // Two renewals of each sidecar's leaf.
    for (let renewal = 0; renewal < 2; renewal++) {
      for (const sidecar of [echo, web])
        seen.add((await waitCerts(sidecar, (certs) => !seen.has(certs.serial))).serial);
    }
    const rootsBefore = (await adminJson<Certs>(echo, "/certs")).roots;
    const next = await createTestAuthority({ trustDomain });
    await useAuthority(consul, next, 4000);
    for (const sidecar of [echo, web]) await waitCerts(sidecar, (certs) => certs.roots === rootsBefore + 1);
    // New leaves under the new root, then calls on fresh connections for a while.
    for (const sidecar of [echo, web]) seen.add((await waitCerts(sidecar, (certs) => !seen.has(certs.serial))).serial);
    await sleep(1500);
    const { calls, failures, errors } = await load.stop();
    expect({ failures, errors }).toEqual({ failures: 0, errors: [] });
    expect(calls).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThanOrEqual(8);
    expect(app.received.get("Echo")).toBeGreaterThanOrEqual(calls);
  }, 60_000);
});
