import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { descriptorSet } from "@mesh/kit";
import { type EchoServer, startEchoServer } from "@mesh/kit/testing";
import { EchoService, file_mesh_echo_v1_echo } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { parseConfig } from "../src/config/load.ts";
import { MethodCatalog } from "../src/descriptors/method-catalog.ts";
import { type RunningSidecar, type SidecarOptions, startSidecar } from "../src/sidecar.ts";

export const ECHO_SERVICE = "mesh.echo.v1.EchoService";

/** The echo contract as a serialized FileDescriptorSet, as `buf build -o` would write it. */
export function echoDescriptorSet(): Uint8Array {
  return descriptorSet([file_mesh_echo_v1_echo]);
}

export interface TestSidecar {
  sidecar: RunningSidecar;
  outbound: string;
  inbound: string;
  admin: string;
  close(): Promise<void>;
}

/** Starts a sidecar on free loopback ports from a partial config; the echo contract is its descriptor set. */
export async function startTestSidecar(
  config: Record<string, unknown>,
  options: Pick<SidecarOptions, "tracing"> = {},
): Promise<TestSidecar> {
  const catalog = new MethodCatalog();
  catalog.addDescriptorSet(echoDescriptorSet());
  const parsed = parseConfig({
    outbound: { listen: "127.0.0.1:0" },
    admin: { listen: "127.0.0.1:0" },
    ...config,
  });
  const sidecar = await startSidecar({
    config: parsed,
    catalog,
    log: pino({ level: process.env.LOG_LEVEL ?? "silent" }),
    ...options,
  });
  return {
    sidecar,
    outbound: `127.0.0.1:${sidecar.ports.outbound}`,
    inbound: `127.0.0.1:${sidecar.ports.inbound}`,
    admin: `http://127.0.0.1:${sidecar.ports.admin}`,
    close: () => sidecar.close(),
  };
}

export type EchoClient = Client<typeof EchoService>;

/** A connect-node gRPC client of the echo service at `host:port`. */
export function echoClient(address: string): EchoClient {
  return createClient(EchoService, createGrpcTransport({ baseUrl: `http://${address}` }));
}

/** Starts echo servers named a, b, c... */
export function startEchoServers(count: number): Promise<EchoServer[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startEchoServer(String.fromCharCode(97 + index))));
}

/** An upstream config for the echo service at the given servers, with overrides. */
export function echoUpstream(servers: readonly { address: string }[], overrides: Record<string, unknown> = {}) {
  return { echo: { services: [ECHO_SERVICE], endpoints: servers.map((server) => server.address), ...overrides } };
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeDescriptorSet(dir: string): Promise<string> {
  const path = join(dir, "echo.binpb");
  await writeFile(path, echoDescriptorSet());
  return path;
}

export type { EchoServer };

/** The shape of the admin /clusters answer, as tests read it. */
export type ClustersView = Record<
  string,
  {
    breaker: string;
    /** Each method's breaker, with circuitBreaker.scope method. */
    breakers?: Record<string, string>;
    endpoints: { address: string; ejected: boolean; ejections: number; outstanding: number }[];
  }
>;

/** GETs an admin endpoint and parses its JSON. */
export async function adminJson<T>(sidecar: TestSidecar, path: string): Promise<T> {
  return (await (await fetch(`${sidecar.admin}${path}`)).json()) as T;
}

export interface MeshStarter {
  /** Starts echo servers named a, b, c... */
  apps(count: number): Promise<EchoServer[]>;
  sidecar(config: Record<string, unknown>): Promise<TestSidecar>;
}

/** Starts, before a test file's tests, what setup asks for, and stops it all after them: sidecars first, then apps. */
export function useEchoMesh(setup: (mesh: MeshStarter) => Promise<void>): void {
  const started: { close(): Promise<void> }[] = [];
  beforeAll(() =>
    setup({
      async apps(count) {
        const servers = await startEchoServers(count);
        started.push(...servers.map((server) => ({ close: () => server.shutdown(100) })));
        return servers;
      },
      async sidecar(config) {
        const sidecar = await startTestSidecar(config);
        started.unshift(sidecar);
        return sidecar;
      },
    }),
  );
  afterAll(async () => {
    for (const each of started) await each.close();
  });
}
