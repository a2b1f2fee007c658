import { generateKeyPairSync } from "node:crypto";
import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../config/load.ts";
import { createAdminServer, redactSecrets } from "./admin-server.ts";
import { MeshMetrics } from "./metrics.ts";

const TOKEN = "5f4dcc3b-aaaa-4bbb-8ccc-0123456789ab";
const config = parseConfig({
  service: "inventory",
  consul: { address: "127.0.0.1:8500", token: TOKEN, register: false },
  tls: { enabled: false },
});

let server: Server;
let port: number;

beforeAll(async () => {
  server = createAdminServer({
    metrics: new MeshMetrics(),
    readiness: async () => undefined,
    clusters: () => ({}),
    certs: () => ({ tls: "off" }),
    config: () => config,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A GET with the Host header chosen (fetch does not let one set it): what a browser sends after DNS rebinding. */
const get = (path: string, host: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const sent = request({ host: "127.0.0.1", port, path, headers: { host } }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    sent.on("error", reject);
    sent.end();
  });

describe("admin server", () => {
  it("shows the config without the Consul token", async () => {
    const answer = await get("/config", `127.0.0.1:${port}`);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toContain(TOKEN);
    const shown = JSON.parse(answer.body) as { consul: { token: string; address: string } };
    expect(shown.consul).toMatchObject({ token: "redacted", address: "127.0.0.1:8500" });
  });

  it("redacts private key material wherever it is", () => {
    // A key made here, as the sidecar's own are: none is ever committed.
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" });
    expect(redactSecrets({ leaf: { certPem: "-----BEGIN CERTIFICATE-----", anything: pem, privateKey: "x" } })).toEqual(
      { leaf: { certPem: "-----BEGIN CERTIFICATE-----", anything: "redacted", privateKey: "redacted" } },
    );
  });

  it("refuses a request whose Host is not loopback, as a page at a rebinding domain sends", async () => {
    for (const host of [`rebind.attacker.example:${port}`, "rebind.attacker.example", `10.1.2.3:${port}`]) {
      const answer = await get("/config", host);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain("DNS rebinding");
      expect(answer.body).not.toContain(TOKEN);
    }
    // The port must be the admin listener's too.
    expect((await get("/healthz", "127.0.0.1:1")).status).toBe(403);
  });

  it("answers tools on loopback, by address or by name", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      expect((await get("/healthz", host)).status).toBe(200);
    }
    expect((await fetch(`http://127.0.0.1:${port}/clusters`)).status).toBe(200);
  });
});
