import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestAuthority, type RunningConsulDev, startConsulDev, type TestAuthority } from "@mesh/consul-dev";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, beforeAll } from "vitest";
import {
  ECHO_SERVICE,
  type EchoServer,
  echoClient,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";

/** A consul-dev agent whose Connect CA root is a test authority, so tests can also sign leaves of their own. */
export async function startMeshConsul(options: { leafCertTtlMs?: number } = {}) {
  const trustDomain = `${randomUUID()}.consul`;
  const consul = await startConsulDev({
    port: 0,
    trustDomain,
    leafCertTtlMs: options.leafCertTtlMs,
    leafRenewalWindow: { from: 0.5, to: 0.6 },
  });
  const authority = await createTestAuthority({ trustDomain });
  await useAuthority(consul, authority, options.leafCertTtlMs);
  return { consul, authority, trustDomain };
}

/** Makes an authority the agent's CA root (a rotation); Consul's PUT replaces the whole configuration. */
export function useAuthority(consul: RunningConsulDev, authority: TestAuthority, leafCertTtlMs?: number) {
  return consulPut(consul, "/v1/connect/ca/configuration", {
    Provider: "consul",
    Config: {
      PrivateKey: authority.keyPem,
      RootCert: authority.rootPem,
      ...(leafCertTtlMs ? { LeafCertTTL: `${leafCertTtlMs}ms` } : {}),
    },
  });
}

export async function consulPut(consul: RunningConsulDev, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${consul.url}${path}`, { method: "PUT", body: JSON.stringify(body ?? {}) });
  if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
}

/** Writes the intention source -> destination (an Action, or L7 Permissions). */
export function putIntention(consul: RunningConsulDev, source: string, destination: string, body: unknown) {
  return consulPut(consul, `/v1/connect/intentions/exact?source=${source}&destination=${destination}`, body);
}

export async function consulJson<T>(consul: RunningConsulDev, path: string): Promise<T> {
  const response = await fetch(`${consul.url}${path}`);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A leaf of the mesh's CA for any service, as the agent hands it out. */
export async function agentLeaf(consul: RunningConsulDev, service: string) {
  const leaf = await consulJson<{ CertPEM: string; PrivateKeyPEM: string; SerialNumber: string }>(
    consul,
    `/v1/agent/connect/ca/leaf/${service}`,
  );
  return { certPem: leaf.CertPEM, keyPem: leaf.PrivateKeyPEM, serial: leaf.SerialNumber };
}

/** A connect-node echo client that speaks TLS straight to an inbound listener, with the given client certificate. */
export function tlsEchoClient(
  address: string,
  rootPem: string,
  leaf?: { certPem: string; keyPem: string },
): Client<typeof EchoService> {
  const transport = createGrpcTransport({
    baseUrl: `https://${address}`,
    nodeOptions: { ca: rootPem, cert: leaf?.certPem, key: leaf?.keyPem, checkServerIdentity: () => undefined },
  });
  return createClient(EchoService, transport);
}

/** Retries an assertion until it holds (intentions and certificates reach sidecars through watches). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

export type { TestAuthority };

export interface TlsEchoMesh {
  consul: RunningConsulDev;
  authority: TestAuthority;
  trustDomain: string;
  app: EchoServer;
  /** The echo app's sidecar (service "echo", inbound with mesh TLS, registered in Consul). */
  echo: TestSidecar;
  /** A caller's sidecar (service "web", outbound only), that discovers echo through Consul. */
  web: TestSidecar;
  consulConfig: Record<string, unknown>;
}

/**
 * Before a test file's tests: consul-dev with a test CA, the mesh denying by default (`*` -> `*`) and allowing
 * web -> echo, the echo app behind its sidecar, and web's sidecar; all stopped after the tests. The returned object
 * is filled in by then.
 */
export function useTlsEchoMesh(options: { leafCertTtlMs?: number; echoTls?: Record<string, unknown> } = {}) {
  const mesh = {} as TlsEchoMesh;
  beforeAll(async () => {
    Object.assign(mesh, await startMeshConsul({ leafCertTtlMs: options.leafCertTtlMs }));
    await putIntention(mesh.consul, "*", "*", { Action: "deny" });
    await putIntention(mesh.consul, "web", "echo", { Action: "allow" });
    [mesh.app] = (await startEchoServers(1)) as [EchoServer];
    mesh.consulConfig = {
      address: mesh.consul.address,
      checkIntervalMs: 1000,
      checkTimeoutMs: 500,
      watchMinIntervalMs: 50,
    };
    mesh.echo = await startTestSidecar({
      service: "echo",
      inbound: { listen: "127.0.0.1:0", app: mesh.app.address, services: [ECHO_SERVICE] },
      consul: mesh.consulConfig,
      tls: options.echoTls ?? {},
    });
    mesh.web = await startTestSidecar({
      service: "web",
      consul: { ...mesh.consulConfig, register: false },
      upstreams: { echo: {} },
    });
    await eventually(() => echoClient(mesh.web.outbound).echo({ message: "ready" }), 15_000);
  }, 60_000);
  afterAll(async () => {
    await mesh.web?.close();
    await mesh.echo?.close();
    await mesh.app?.shutdown(100);
    await mesh.consul?.stop();
  });
  return mesh;
}
