import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConsulDev, startConsulDev } from "../src/index.ts";

// The intention endpoints and the agent's authorize endpoint over HTTP.
type IntentionJson = {
  ID: string;
  SourceNS: string;
  SourceName: string;
  DestinationNS: string;
  DestinationName: string;
  SourceType: string;
  Action: string;
  Permissions?: unknown[];
  Precedence: number;
  Description: string;
  Meta: Record<string, string>;
  CreatedAt: string;
  UpdatedAt: string;
  CreateIndex: number;
  ModifyIndex: number;
};

const TRUST_DOMAIN = "11111111-2222-4333-8444-555555555555.consul";
let agent: RunningConsulDev;

beforeAll(async () => {
  agent = await startConsulDev({ port: 0, trustDomain: TRUST_DOMAIN });
});
afterAll(() => agent.stop());

const http = (path: string, init?: RequestInit) => fetch(`${agent.url}${path}`, init);
const json = async <T>(path: string) => (await (await http(path)).json()) as T;
const exact = (source: string, destination: string) =>
  `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`;
const putIntention = (source: string, destination: string, body: unknown) =>
  http(exact(source, destination), { method: "PUT", body: JSON.stringify(body) });
const remove = (source: string, destination: string) => http(exact(source, destination), { method: "DELETE" });
const authorize = (body: unknown) =>
  http("/v1/agent/connect/authorize", { method: "POST", body: JSON.stringify(body) });
const spiffe = (service: string, trustDomain = TRUST_DOMAIN) =>
  `spiffe://${trustDomain}/ns/default/dc/dc1/svc/${service}`;
const pairs = (list: IntentionJson[]) => list.map((each) => `${each.SourceName}->${each.DestinationName}`);

describe("exact intentions", () => {
  it("creates, reads, updates and deletes one intention per pair", async () => {
    const created = await putIntention("web", "db", { Action: "allow", Description: "web reads", Meta: { team: "a" } });
    expect([created.status, await created.json()]).toEqual([200, true]);
    const intention = await json<IntentionJson>(exact("web", "db"));
    expect(intention).toMatchObject({
      SourceNS: "default",
      SourceName: "web",
      DestinationNS: "default",
      DestinationName: "db",
      SourceType: "consul",
      Action: "allow",
      Precedence: 9,
      Description: "web reads",
      Meta: { team: "a" },
    });
    expect(intention.ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(intention.Permissions).toBeUndefined();
    expect(intention.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    await putIntention("web", "db", {
      Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/shop.db.v1.Db/", Methods: ["POST"] } }],
    });
    const updated = await json<IntentionJson>(exact("web", "db"));
    expect(updated).toMatchObject({ ID: intention.ID, Action: "", CreateIndex: intention.CreateIndex });
    expect(updated.Permissions).toEqual([
      { Action: "allow", HTTP: { PathPrefix: "/shop.db.v1.Db/", Methods: ["POST"] } },
    ]);
    expect(updated.ModifyIndex).toBeGreaterThan(intention.ModifyIndex);
    expect(await json(`/v1/connect/intentions/${intention.ID}`)).toMatchObject({ ID: intention.ID });

    const deleted = await remove("web", "db");
    expect([deleted.status, await deleted.json()]).toEqual([200, true]);
    const missing = await http(exact("web", "db"));
    expect([missing.status, await missing.text()]).toEqual([404, "Intention not found"]);
  });

  it("rejects bad intentions with Consul's texts", async () => {
    const cases: [string, unknown, string][] = [
      [exact("web", "db"), {}, "Action must be set to 'allow' or 'deny'"],
      [exact("web", "db"), { Action: "maybe" }, "Action must be set to 'allow' or 'deny'"],
      [
        exact("web", "db"),
        { Action: "allow", Permissions: [{ Action: "allow", HTTP: { PathExact: "/a" } }] },
        "Action must be omitted if Permissions are specified",
      ],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { PathExact: "a" } }] },
        `Permissions[0].HTTP.PathExact doesn't start with '/': "a"`,
      ],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { PathExact: "/a", PathPrefix: "/b" } }] },
        "Permissions[0].HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex",
      ],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { Methods: ["FETCH"] } }] },
        'Permissions[0].HTTP.Methods contains an invalid method "FETCH"',
      ],
      [exact("web", "db"), { Permissions: [{ Action: "allow", HTTP: {} }] }, "Permissions[0].HTTP should not be empty"],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { Header: [{ Name: "x", Exact: "1", Prefix: "2" }] } }] },
        "Permissions[0].HTTP.Header[0] should only contain one of Present, Exact, Prefix, Suffix, or Regex",
      ],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { Header: [{ Name: "x", Regex: "(?<=a)b" }] } }] },
        "Permissions[0].HTTP.Header[0].Regex is not a valid regular expression: error parsing regexp: invalid named capture: `(?<=a)b`",
      ],
      [
        exact("web", "db"),
        { Permissions: [{ Action: "allow", HTTP: { PathRegex: "/(a" } }] },
        "Permissions[0].HTTP.PathRegex is not a valid regular expression: error parsing regexp: missing closing ): `/(a`",
      ],
      [
        exact("we*b", "db"),
        { Action: "allow" },
        `source "we*b" is invalid: SourceName: wildcard character '*' cannot be used with partial values`,
      ],
      ["/v1/connect/intentions/exact?destination=db", { Action: "allow" }, "required query parameter 'source' not set"],
    ];
    for (const [path, body, message] of cases) {
      const response = await http(path, { method: "PUT", body: JSON.stringify(body) });
      expect([response.status, await response.text()]).toEqual([400, message]);
    }
    expect((await json<IntentionJson[]>("/v1/connect/intentions")).length).toBe(0);
  });

  it("takes RE2 syntax in regexes, such as (?i), that JavaScript does not", async () => {
    const permissions = [
      {
        Action: "allow",
        HTTP: { PathRegex: "(?i)/shop\\..*", Header: [{ Name: "authorization", Regex: "(?i)bearer .*" }] },
      },
    ];
    const written = await putIntention("web", "db", { Permissions: permissions });
    expect([written.status, await written.text()]).toEqual([200, "true"]);
    const stored = await json<IntentionJson>(exact("web", "db"));
    expect(stored.Permissions).toEqual(permissions);
    await remove("web", "db");
  });
});

describe("list, match and check", () => {
  beforeAll(async () => {
    await putIntention("*", "*", { Action: "deny" });
    await putIntention("web", "db", { Action: "allow" });
    await putIntention("*", "db", { Action: "deny" });
    await putIntention("web", "*", { Action: "allow" });
    await putIntention("api", "db", { Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/" } }] });
  });
  afterAll(async () => {
    for (const [source, destination] of [
      ["*", "*"],
      ["web", "db"],
      ["*", "db"],
      ["web", "*"],
      ["api", "db"],
    ] as const) {
      await remove(source, destination);
    }
  });

  it("lists every intention by precedence", async () => {
    const response = await http("/v1/connect/intentions");
    expect(Number(response.headers.get("x-consul-index"))).toBeGreaterThanOrEqual(1);
    const list = (await response.json()) as IntentionJson[];
    expect(pairs(list)).toEqual(["api->db", "web->db", "*->db", "web->*", "*->*"]);
    expect(list.map((each) => each.Precedence)).toEqual([9, 9, 8, 6, 5]);
  });

  it("matches by destination or source, highest precedence first, keyed by the names asked", async () => {
    const byDestination = await json<Record<string, IntentionJson[]>>(
      "/v1/connect/intentions/match?by=destination&name=db&name=cache",
    );
    expect(pairs(byDestination.db ?? [])).toEqual(["api->db", "web->db", "*->db", "web->*", "*->*"]);
    expect(pairs(byDestination.cache ?? [])).toEqual(["web->*", "*->*"]);
    const bySource = await json<Record<string, IntentionJson[]>>("/v1/connect/intentions/match?by=source&name=web");
    expect(pairs(bySource.web ?? [])).toEqual(["web->db", "*->db", "web->*", "*->*"]);
    for (const [query, message] of [
      ["name=db", "required query parameter 'by' not set"],
      ["by=both&name=db", "'by' parameter must be one of 'source' or 'destination'"],
      ["by=source", "required query parameter 'name' not set"],
    ]) {
      const response = await http(`/v1/connect/intentions/match?${query}`);
      expect([response.status, await response.text()]).toEqual([400, message]);
    }
  });

  it("wakes a blocking match query when an intention changes", async () => {
    const first = await http("/v1/connect/intentions/match?by=destination&name=cache");
    const index = first.headers.get("x-consul-index");
    const watch = http(`/v1/connect/intentions/match?by=destination&name=cache&index=${index}&wait=5s`);
    const started = Date.now();
    setTimeout(() => void putIntention("web", "cache", { Action: "deny" }), 100);
    const woken = await watch;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(Number(woken.headers.get("x-consul-index"))).toBeGreaterThan(Number(index));
    expect(pairs(((await woken.json()) as Record<string, IntentionJson[]>).cache ?? [])[0]).toBe("web->cache");
    await remove("web", "cache");
  });

  it("checks the L4 decision: the most specific intention, L7 counting as deny", async () => {
    const allowed = async (source: string, destination: string) =>
      (await json<{ Allowed: boolean }>(`/v1/connect/intentions/check?source=${source}&destination=${destination}`))
        .Allowed;
    expect(await allowed("web", "db")).toBe(true);
    expect(await allowed("other", "db")).toBe(false);
    expect(await allowed("web", "cache")).toBe(true);
    expect(await allowed("other", "cache")).toBe(false);
    expect(await allowed("api", "db")).toBe(false); // L7
    const missing = await http("/v1/connect/intentions/check?source=web");
    expect([missing.status, await missing.text()]).toEqual([400, "required query parameter 'destination' not set"]);
  });

  it("authorizes a client certificate URI with Consul's reasons", async () => {
    const webToDb = await (
      await authorize({ Target: "db", ClientCertURI: spiffe("web"), ClientCertSerial: "01" })
    ).json();
    const id = (await json<IntentionJson>(exact("web", "db"))).ID;
    expect(webToDb).toEqual({
      Authorized: true,
      Reason: `Matched L4 intention: web => db (ID: ${id}, Precedence: 9, Action: ALLOW)`,
    });
    const other = (await (await authorize({ Target: "db", ClientCertURI: spiffe("other") })).json()) as {
      Authorized: boolean;
      Reason: string;
    };
    expect(other.Authorized).toBe(false);
    expect(other.Reason).toMatch(/^Matched L4 intention: \* => db \(ID: .+, Precedence: 8, Action: DENY\)$/);
    const l7 = (await (await authorize({ Target: "db", ClientCertURI: spiffe("api") })).json()) as {
      Authorized: boolean;
      Reason: string;
    };
    expect(l7.Authorized).toBe(false);
    expect(l7.Reason).toMatch(/^Matched L7 intention: api => db \(ID: .+, Precedence: 9, Permissions: 1\)$/);
    // Like Consul, the trust domain is not checked here: the TLS handshake decides whose certificates count.
    const foreign = await (await authorize({ Target: "db", ClientCertURI: spiffe("web", "other.consul") })).json();
    expect(foreign).toMatchObject({ Authorized: true });
  });

  it("rejects authorize requests as Consul does", async () => {
    const cases: [unknown, string][] = [
      [{ ClientCertURI: spiffe("web") }, "Target service must be specified"],
      [{ Target: "db", ClientCertURI: "https://example.com/x" }, "ClientCertURI not a valid Connect identifier"],
      [{ Target: "db" }, "ClientCertURI not a valid Connect identifier"],
      [{ Target: "db", ClientCertURI: `spiffe://${TRUST_DOMAIN}` }, "ClientCertURI not a valid Service identifier"],
    ];
    for (const [body, message] of cases) {
      const response = await authorize(body);
      expect([response.status, await response.text()]).toEqual([400, message]);
    }
  });
});

describe("the default", () => {
  it("allows what no intention decides, as Consul does with ACLs disabled", async () => {
    expect(await json("/v1/connect/intentions/check?source=a&destination=b")).toEqual({ Allowed: true });
    expect(await (await authorize({ Target: "b", ClientCertURI: spiffe("a") })).json()).toEqual({
      Authorized: true,
      Reason: "ACLs disabled, access is allowed by default",
    });
    expect((await http("/v1/connect/intentions")).headers.get("x-consul-default-acl-policy")).toBe("allow");
  });
});
