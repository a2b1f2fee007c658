import { setTimeout as sleep } from "node:timers/promises";
import { createTestAuthority } from "@mesh/consul-dev";
import { steadyLoad } from "@mesh/kit/testing";
import { describe, expect, it } from "vitest";
import { adminJson, echoClient, type TestSidecar } from "./harness.ts";
import { eventually, useAuthority, useTlsEchoMesh } from "./mesh-tls.ts";

// Leaves that live 4 s (the agent renews them at half their life) and a root rotation, all under steady load.
const mesh = useTlsEchoMesh({ leafCertTtlMs: 4000 });

interface Certs {
  serial: string;
  roots: number;
}

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
    const { echo, web, app, consul, trustDomain } = mesh;
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
