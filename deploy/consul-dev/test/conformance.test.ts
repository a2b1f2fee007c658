import { setTimeout as sleep } from "node:timers/promises";
import { type EchoServer, startEchoServer } from "@mesh/kit/testing";
import Consul from "consul";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConsulDev, startConsulDev } from "../src/index.ts";

// The conformance checklist of consul-api-subset.md §12, against consul-dev, through the npm `consul` client (what
// users' code sends) and through raw HTTP (what exactly comes back).
let agent: RunningConsulDev;
let consul: Consul;

beforeAll(async () => {
  agent = await startConsulDev({ port: 0, nodeName: "dev-node", minDeregisterMs: 300, reapIntervalMs: 100 });
  const [host, port] = agent.address.split(":") as [string, string];
  consul = new Consul({ host, port: Number(port) });
});

afterAll(() => agent.stop());

const http = (path: string, init?: RequestInit) => fetch(`${agent.url}${path}`, init);
const put = (path: string, body?: unknown) =>
  http(path, {
    method: "PUT",
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
const json = async <T = unknown>(path: string) => (await (await http(path)).json()) as T;
type Check = { CheckID: string; Name: string; Status: string; Output: string; Type: string; ServiceID: string };
type Entry = {
  Service: { ID: string; Address: string; Tags: string[]; Meta: Record<string, string> };
  Checks: Check[];
};

async function waitFor<T>(read: () => Promise<T>, until: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (until(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

describe("registration (§4.1)", () => {
  it("names checks service:<id> or service:<id>:<n>, names them after the service, and starts them critical", async () => {
    await consul.agent.service.register({
      name: "web",
      id: "web-1",
      port: 8080,
      address: "10.0.0.5",
      tags: ["v1"],
      meta: { version: "1.2.3" },
      checks: [
        { ttl: "15s", status: "passing" } as never,
        { ttl: "15s" } as never,
        { checkid: "x", ttl: "15s" } as never,
      ],
    });
    await consul.agent.service.register({ name: "api", id: "api-1", port: 9000, check: { ttl: "10s" } as never });
    const checks = await json<Record<string, Check>>("/v1/agent/checks");
    expect(Object.keys(checks).sort()).toEqual(["service:api-1", "service:web-1:1", "service:web-1:2", "x"]);
    expect(checks["service:web-1:1"]).toMatchObject({ Name: "Service 'web' check", Status: "passing", Type: "ttl" });
    expect(checks["service:web-1:2"]?.Status).toBe("critical");
    expect(checks["service:api-1"]?.Status).toBe("critical");
  });

  it("accepts lower-case and snake_case keys as Consul's JSON decoder does", async () => {
    const response = await put("/v1/agent/service/register", {
      name: "snake",
      id: "snake-1",
      check: { ttl: "10s", deregister_critical_service_after: "1m", status: "passing" },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
    expect((await json<Record<string, Check>>("/v1/agent/checks"))["service:snake-1"]?.Status).toBe("passing");
  });

  it("keeps check status across re-registration, and old checks unless replace-existing-checks", async () => {
    await put("/v1/agent/check/pass/service:web-1:2?note=ok");
    await put("/v1/agent/service/register", {
      Name: "web",
      ID: "web-1",
      Port: 8080,
      Checks: [{ TTL: "15s" }, { TTL: "15s", Status: "critical" }],
    });
    let checks = await json<Record<string, Check>>("/v1/agent/checks");
    expect(checks["service:web-1:2"]).toMatchObject({ Status: "passing", Output: "ok" });
    expect(checks.x).toBeDefined();
    await put("/v1/agent/service/register?replace-existing-checks", {
      Name: "web",
      ID: "web-1",
      Port: 8080,
      Checks: [{ TTL: "15s" }, { TTL: "15s" }],
    });
    checks = await json<Record<string, Check>>("/v1/agent/checks");
    expect(checks.x).toBeUndefined();
  });

  it("rejects invalid registrations with Consul's 400 texts", async () => {
    const cases: [unknown, string][] = [
      [{ ID: "x" }, "Missing service name"],
      [{ Name: "a", Address: "0.0.0.0" }, "Invalid service address"],
      [{ Name: "a", Meta: { "a.b": "c" } }, "Invalid Service Meta: Key contains invalid characters: a.b"],
      [{ Name: "a", Check: { TTL: "1s", Interval: "1s" } }, "Invalid check: Interval and TTL cannot both be specified"],
      [
        { Name: "a", Check: { HTTP: "http://x" } },
        "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
      ],
      [{ Name: "a", Check: {} }, "Invalid check: TTL must be > 0 for TTL checks"],
      [{ Name: "a", Check: { TTL: "1s", Status: "ok" } }, "Status for checks must 'passing', 'warning', 'critical'"],
      [{ Name: "a", Check: { TTL: "1 minute" } }, 'Request decode failed: time: invalid duration "1 minute"'],
    ];
    for (const [body, message] of cases) {
      const response = await put("/v1/agent/service/register", body);
      expect([response.status, response.headers.get("content-type"), await response.text()]).toEqual([
        400,
        "text/plain; charset=utf-8",
        message,
      ]);
    }
  });
});

describe("errors (§4.2, §4.3, §1.2)", () => {
  it("answers unknown IDs, non-TTL checks and wrong methods as Consul does", async () => {
    const unknownService = await put("/v1/agent/service/deregister/nope");
    expect([unknownService.status, await unknownService.text()]).toEqual([
      404,
      'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.',
    ]);
    await put("/v1/agent/service/register", {
      Name: "tcp",
      ID: "tcp-1",
      Check: { TCP: "127.0.0.1:1", Interval: "10s" },
    });
    const notTtl = await put("/v1/agent/check/pass/service:tcp-1");
    expect([notTtl.status, await notTtl.text()]).toEqual([500, 'CheckID "service:tcp-1" does not have associated TTL']);
    const wrongMethod = await http("/v1/agent/check/pass/service:web-1:1");
    expect([wrongMethod.status, await wrongMethod.text()]).toEqual([405, "method GET not allowed"]);
    const updated = await put("/v1/agent/check/update/service:web-1:1", { Status: "bogus" });
    expect([updated.status, await updated.text()]).toEqual([400, "Invalid check status: 'bogus'"]);
    await expect(consul.agent.check.pass("nope")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("decodes percent-encoded path parameters (the npm client encodes ':' and '/')", async () => {
    await consul.agent.check.pass({ id: "service:web-1:1", note: "via npm" });
    expect((await json<Record<string, Check>>("/v1/agent/checks"))["service:web-1:1"]?.Output).toBe("via npm");
    await consul.kv.set("cfg/a", "1");
    expect((await json<{ Key: string }[]>("/v1/kv/cfg/a"))[0]?.Key).toBe("cfg/a");
  });
});

describe("health and catalog reads (§5, §6)", () => {
  it("includes serfHealth in each entry, filters ?passing (warning excluded) and ANDs tags", async () => {
    await put("/v1/agent/service/register", {
      Name: "pay",
      ID: "pay-1",
      Tags: ["a", "b"],
      Check: { TTL: "30s", Status: "passing" },
    });
    await put("/v1/agent/service/register", {
      Name: "pay",
      ID: "pay-2",
      Tags: ["a"],
      Check: { TTL: "30s", Status: "passing" },
    });
    await put("/v1/agent/check/warn/service:pay-2");
    const all = await json<Entry[]>("/v1/health/service/pay");
    expect(all.map((entry) => entry.Checks.map((check) => check.CheckID)[0])).toEqual(["serfHealth", "serfHealth"]);
    expect((await json<Entry[]>("/v1/health/service/pay?passing")).map((entry) => entry.Service.ID)).toEqual(["pay-1"]);
    expect((await json<Entry[]>("/v1/health/service/pay?tag=a&tag=b")).map((entry) => entry.Service.ID)).toEqual([
      "pay-1",
    ]);
    const viaNpm = await consul.health.service({ service: "pay", passing: true });
    expect(viaNpm.map((entry: Entry) => entry.Service.ID)).toEqual(["pay-1"]);
    expect(await json("/v1/health/service/nothing")).toEqual([]);
    expect((await http("/v1/health/service/pay?passing=maybe")).status).toBe(400);
  });

  it("sends index headers on server-backed reads only, and lists the consul service", async () => {
    for (const path of ["/v1/health/service/pay", "/v1/catalog/services", "/v1/health/state/any", "/v1/kv/missing"]) {
      const response = await http(path);
      expect(Number(response.headers.get("x-consul-index"))).toBeGreaterThanOrEqual(1);
      expect(response.headers.get("x-consul-knownleader")).toBe("true");
    }
    expect((await http("/v1/kv/missing")).status).toBe(404);
    expect((await http("/v1/agent/services")).headers.get("x-consul-index")).toBeNull();
    expect(await json<Record<string, string[]>>("/v1/catalog/services")).toMatchObject({ consul: [], pay: ["a", "b"] });
    expect(await json("/v1/catalog/datacenters")).toEqual(["dc1"]);
    expect(await json("/v1/status/leader")).toBe("127.0.0.1:8300");
    expect(await json<{ Config: { NodeName: string } }>("/v1/agent/self")).toMatchObject({
      Config: { NodeName: "dev-node", Datacenter: "dc1" },
    });
  });

  it("keeps an empty Address empty, so clients fall back to the node address", async () => {
    await put("/v1/agent/service/register", { Name: "noaddr", Port: 1234 });
    const [entry] = await json<(Entry & { Node: { Address: string } })[]>("/v1/health/service/noaddr");
    expect(entry?.Service.Address).toBe("");
    expect(entry?.Node.Address).toBe("127.0.0.1");
  });
});

describe("blocking queries (§2)", () => {
  it("wake on a change, time out on wait, and answer at once without an index", async () => {
    await put("/v1/agent/service/register", { Name: "blk", ID: "blk-1", Check: { TTL: "30s", Status: "passing" } });
    const first = await http("/v1/health/service/blk");
    const index = Number(first.headers.get("x-consul-index"));

    let started = Date.now();
    const timedOut = await http(`/v1/health/service/blk?index=${index}&wait=300ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Number(timedOut.headers.get("x-consul-index"))).toBe(index);

    started = Date.now();
    const woken = http(`/v1/health/service/blk?index=${index}&wait=10s`);
    await sleep(100);
    await put("/v1/agent/check/fail/service:blk-1");
    const response = await woken;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(Number(response.headers.get("x-consul-index"))).toBeGreaterThan(index);

    expect((await http("/v1/health/service/blk?index=abc")).status).toBe(400);
    expect(await (await http("/v1/health/service/blk?index=1&wait=forever")).text()).toBe("Invalid wait time");
  });

  it("do not advance on an output-only heartbeat", async () => {
    await put("/v1/agent/check/pass/service:blk-1?note=one");
    const before = Number((await http("/v1/health/service/blk")).headers.get("x-consul-index"));
    await put("/v1/agent/check/pass/service:blk-1?note=two");
    const after = Number((await http("/v1/health/service/blk")).headers.get("x-consul-index"));
    expect(after).toBe(before);
  });
});

describe("checks the agent runs (§8)", () => {
  it("expires a TTL check to critical with Consul's output", async () => {
    await put("/v1/agent/service/register", { Name: "ttl", ID: "ttl-1", Check: { TTL: "200ms", Status: "passing" } });
    await put("/v1/agent/check/pass/service:ttl-1?note=last words");
    const check = await waitFor(
      async () => (await json<Record<string, Check>>("/v1/agent/checks"))["service:ttl-1"],
      (value) => value?.Status === "critical",
    );
    expect(check).toMatchObject({ Output: "TTL expired (last output before timeout follows): last words" });
  });

  it("flips a gRPC check with the app's grpc.health.v1 status, for the service after the first /", async () => {
    const app: EchoServer = await startEchoServer("grpc-check");
    try {
      await put("/v1/agent/service/register", {
        Name: "echo",
        ID: "echo-1",
        Check: { GRPC: `${app.address}/mesh.echo.v1.EchoService`, Interval: "1s", Timeout: "1s" },
      });
      const status = async () => (await json<Record<string, Check>>("/v1/agent/checks"))["service:echo-1"];
      expect((await waitFor(status, (c) => c?.Status === "passing"))?.Output).toBe(
        `gRPC check ${app.address}/mesh.echo.v1.EchoService: success`,
      );
      app.health.set("mesh.echo.v1.EchoService", 2);
      expect((await waitFor(status, (c) => c?.Status === "critical"))?.Output).toBe(
        `gRPC ${app.address}/mesh.echo.v1.EchoService serving status: NOT_SERVING`,
      );
    } finally {
      await app.shutdown(100);
    }
  });

  it("runs HTTP checks: 2xx passing, 429 warning, else critical", async () => {
    const { createServer } = await import("node:http");
    let status = 200;
    const server = createServer((_, response) => response.writeHead(status).end("body")).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
    try {
      await put("/v1/agent/service/register", { Name: "web2", ID: "web2-1", Check: { HTTP: url, Interval: "1s" } });
      const check = async () => (await json<Record<string, Check>>("/v1/agent/checks"))["service:web2-1"];
      expect((await waitFor(check, (c) => c?.Status === "passing"))?.Output).toBe(
        `HTTP GET ${url}: 200 OK Output: body`,
      );
      status = 429;
      expect((await waitFor(check, (c) => c?.Status === "warning"))?.Status).toBe("warning");
      status = 503;
      expect((await waitFor(check, (c) => c?.Status === "critical"))?.Status).toBe("critical");
    } finally {
      server.close();
    }
  });

  it("reaps a service critical longer than DeregisterCriticalServiceAfter", async () => {
    await put("/v1/agent/service/register", {
      Name: "doomed",
      ID: "doomed-1",
      Check: { TTL: "30s", DeregisterCriticalServiceAfter: "100ms" },
    });
    const services = await waitFor(
      () => json<Record<string, unknown>>("/v1/agent/services"),
      (s) => !("doomed-1" in s),
    );
    expect(services["doomed-1"]).toBeUndefined();
  });

  it("drops a service in maintenance from ?passing", async () => {
    await put("/v1/agent/service/register", { Name: "mnt", ID: "mnt-1", Check: { TTL: "30s", Status: "passing" } });
    await consul.agent.service.maintenance({ id: "mnt-1", enable: true, reason: "upgrade" });
    expect(await json("/v1/health/service/mnt?passing")).toEqual([]);
    await consul.agent.service.maintenance({ id: "mnt-1", enable: false });
    expect((await json<Entry[]>("/v1/health/service/mnt?passing")).length).toBe(1);
  });
});

describe("KV (§7)", () => {
  it("stores values byte for byte, base64 on read, with CAS, keys and separators", async () => {
    expect(await consul.kv.set("web/foo", "bar")).toBe(true);
    await consul.kv.set("web/subdir/x", "1");
    const [entry] = await json<{ Value: string; ModifyIndex: number }[]>("/v1/kv/web/foo");
    expect(Buffer.from(entry?.Value ?? "", "base64").toString()).toBe("bar");
    expect(await (await put(`/v1/kv/web/foo?cas=${(entry?.ModifyIndex ?? 0) + 100}`, "baz")).json()).toBe(false);
    expect(await (await put(`/v1/kv/web/foo?cas=${entry?.ModifyIndex}`, "baz")).json()).toBe(true);
    expect(await (await put("/v1/kv/web/foo?cas=0", "again")).json()).toBe(false);
    expect(await json("/v1/kv/web/?keys&separator=/")).toEqual(["web/foo", "web/subdir/"]);
    expect(await (await http("/v1/kv/web/foo?raw")).text()).toBe("baz");
    expect((await consul.kv.get("web/foo"))?.Value).toBe("baz");
    expect(await consul.kv.get("web/none")).toBeUndefined();
    expect((await put("/v1/kv/big", "x".repeat(600 * 1024))).status).toBe(413);
    expect((await put("/v1/kv/a%20b", "x")).status).toBe(400);
    expect((await put("/v1/kv/a//b", "x")).status).toBe(400);
  });
});
