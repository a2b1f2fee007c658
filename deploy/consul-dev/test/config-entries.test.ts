import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConsulDev, startConsulDev } from "../src/index.ts";

// The config-entry form of intentions (and minimal service-defaults) over HTTP, sharing the store with the legacy
// intention endpoints.
type SourceJson = {
  Name: string;
  Action?: string;
  Permissions?: unknown[];
  Precedence: number;
  Type: string;
  Description?: string;
  LegacyID?: string;
  LegacyMeta?: Record<string, string>;
  LegacyCreateTime?: string;
};
type EntryJson = {
  Kind: string;
  Name: string;
  Sources: SourceJson[];
  Meta?: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
};
type IntentionJson = { ID?: string; SourceName: string; DestinationName: string; Action: string; Meta: object };

const COMPOSE_INTENTIONS = new URL("../../compose/intentions/", import.meta.url);
let agent: RunningConsulDev;

beforeAll(async () => {
  agent = await startConsulDev({ port: 0 });
});
afterAll(() => agent.stop());

const http = (path: string, init?: RequestInit) => fetch(`${agent.url}${path}`, init);
const json = async <T>(path: string) => (await (await http(path)).json()) as T;
const write = (entry: unknown, query = "") =>
  http(`/v1/config${query}`, { method: "PUT", body: JSON.stringify(entry) });
const entry = (name: string) => json<EntryJson>(`/v1/config/service-intentions/${encodeURIComponent(name)}`);
const removeEntry = (name: string, query = "") =>
  http(`/v1/config/service-intentions/${encodeURIComponent(name)}${query}`, { method: "DELETE" });
const exact = (source: string, destination: string) =>
  `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`;
const matchDestination = async (name: string) =>
  (
    (await json<Record<string, IntentionJson[]>>(`/v1/connect/intentions/match?by=destination&name=${name}`))[name] ??
    []
  ).map((each) => `${each.SourceName}->${each.DestinationName}:${each.Action}`);
const allowed = async (source: string, destination: string) =>
  (await json<{ Allowed: boolean }>(`/v1/connect/intentions/check?source=${source}&destination=${destination}`))
    .Allowed;

describe("service-intentions entries", () => {
  afterAll(async () => {
    for (const each of await json<EntryJson[]>("/v1/config/service-intentions")) await removeEntry(each.Name);
  });

  it("are written as config entries and read by the intention endpoints", async () => {
    const written = await write({
      Kind: "service-intentions",
      Name: "db",
      Meta: { owner: "data" },
      Sources: [
        { Name: "*", Action: "deny" },
        { Name: "web", Action: "allow", Description: "web reads" },
        { Name: "api", Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/shop.db.v1.Db/" } }] },
      ],
    });
    expect([written.status, await written.json()]).toEqual([200, true]);
    const read = await entry("db");
    expect(read).toMatchObject({ Kind: "service-intentions", Name: "db", Meta: { owner: "data" } });
    expect(read.ModifyIndex).toBeGreaterThan(0);
    // Highest precedence first, otherwise as written; no legacy fields on a config-entry write.
    expect(read.Sources).toEqual([
      { Name: "web", Action: "allow", Precedence: 9, Type: "consul", Description: "web reads" },
      {
        Name: "api",
        Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/shop.db.v1.Db/" } }],
        Precedence: 9,
        Type: "consul",
      },
      { Name: "*", Action: "deny", Precedence: 8, Type: "consul" },
    ]);
    expect(await matchDestination("db")).toEqual(["api->db:", "web->db:allow", "*->db:deny"]);
    const web = await json<IntentionJson>(exact("web", "db"));
    expect(web).toMatchObject({ SourceName: "web", Action: "allow", Meta: { owner: "data" } });
    expect(web.ID).toBeUndefined();
    expect(await allowed("web", "db")).toBe(true);
    expect(await allowed("other", "db")).toBe(false);
  });

  it("see intentions written by the legacy endpoint, with its legacy fields", async () => {
    await http(exact("cron", "db"), {
      method: "PUT",
      body: JSON.stringify({ Action: "deny", Meta: { ticket: "42" } }),
    });
    const cron = (await entry("db")).Sources.find((each) => each.Name === "cron");
    const id = (await json<IntentionJson>(exact("cron", "db"))).ID;
    expect(cron).toMatchObject({ Name: "cron", Action: "deny", LegacyID: id, LegacyMeta: { ticket: "42" } });
    expect(cron?.LegacyCreateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    const created = await http(exact("web", "queue"), { method: "PUT", body: JSON.stringify({ Action: "allow" }) });
    expect(created.status).toBe(200);
    expect((await entry("queue")).Sources.map((each) => each.Name)).toEqual(["web"]);
    await http(exact("web", "queue"), { method: "DELETE" });
    const gone = await http("/v1/config/service-intentions/queue");
    expect([gone.status, await gone.text()]).toEqual([
      404,
      'Config entry not found for "service-intentions" / "queue"',
    ]);
  });

  it("replace a destination's whole set of sources", async () => {
    await write({ Kind: "service-intentions", Name: "db", Sources: [{ Name: "web", Action: "deny" }] });
    expect((await entry("db")).Sources.map((each) => `${each.Name}:${each.Action}`)).toEqual(["web:deny"]);
    expect(await matchDestination("db")).toEqual(["web->db:deny"]);
    expect((await http(exact("cron", "db"))).status).toBe(404);
    expect((await entry("db")).Meta).toBeUndefined();
  });

  it("write and delete with ?cas", async () => {
    const index = (await entry("db")).ModifyIndex;
    const body = { Kind: "service-intentions", Name: "db", Sources: [{ Name: "web", Action: "allow" }] };
    expect(await (await write(body, `?cas=${index + 100}`)).json()).toBe(false);
    expect(await (await write(body, "?cas=0")).json()).toBe(false); // 0: only if absent
    expect(await (await write(body, `?cas=${index}`)).json()).toBe(true);
    const next = (await entry("db")).ModifyIndex;
    expect(next).toBeGreaterThan(index);
    expect(await (await removeEntry("db", `?cas=${index}`)).json()).toBe(false);
    expect(await (await removeEntry("db", `?cas=${next}`)).json()).toBe(true);
    expect(await matchDestination("db")).toEqual([]);
    expect(await (await write(body, "?cas=0")).json()).toBe(true);
    const plain = await removeEntry("db");
    expect([plain.status, await plain.json()]).toEqual([200, {}]);
    expect((await http("/v1/config/service-intentions/db")).status).toBe(404);
  });

  it("list every entry by name, and wake a blocking read on change", async () => {
    await write({ Kind: "service-intentions", Name: "b", Sources: [{ Name: "x", Action: "allow" }] });
    await write({ Kind: "service-intentions", Name: "a", Sources: [{ Name: "x", Action: "allow" }] });
    const first = await http("/v1/config/service-intentions");
    expect(((await first.json()) as EntryJson[]).map((each) => each.Name)).toEqual(["a", "b"]);
    const index = first.headers.get("x-consul-index");

    const watchOne = http(`/v1/config/service-intentions/a?index=${index}&wait=5s`);
    const watchList = http(`/v1/config/service-intentions?index=${index}&wait=5s`);
    const started = Date.now();
    setTimeout(() => void http(exact("y", "a"), { method: "PUT", body: JSON.stringify({ Action: "deny" }) }), 100);
    const [one, list] = await Promise.all([watchOne, watchList]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(Number(one.headers.get("x-consul-index"))).toBeGreaterThan(Number(index));
    expect(((await one.json()) as EntryJson).Sources.map((each) => each.Name)).toEqual(["x", "y"]);
    expect(((await list.json()) as EntryJson[]).length).toBe(2);
  });

  it("reject bad entries with Consul's texts", async () => {
    const intentions = (extra: object) => ({ Kind: "service-intentions", Name: "db", ...extra });
    const cases: [unknown, string][] = [
      [{ Name: "db" }, "Request decoding failed: Payload does not contain a kind/Kind key at the top level"],
      [{ Kind: 7, Name: "db" }, "Request decoding failed: Kind value in payload is not a string"],
      [{ Kind: "nope", Name: "db" }, "Request decoding failed: invalid config entry kind: nope"],
      [
        { Kind: "proxy-defaults", Name: "global" },
        'consul-dev does not support config entries of kind "proxy-defaults"; it supports service-intentions and service-defaults',
      ],
      [{ Kind: "service-intentions", Sources: [{ Name: "a", Action: "allow" }] }, "Name is required"],
      [intentions({ Sources: [] }), "At least one source is required"],
      [intentions({ Sources: [{ Action: "allow" }] }), "Sources[0].Name is required"],
      [
        intentions({ Sources: [{ Name: "w*", Action: "allow" }] }),
        "Sources[0].Name: wildcard character '*' cannot be used with partial values",
      ],
      [
        intentions({ Sources: [{ Name: "web", Action: "maybe" }] }),
        "Sources[0].Action must be set to 'allow' or 'deny'",
      ],
      [
        intentions({
          Sources: [{ Name: "web", Action: "allow", Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/" } }] }],
        }),
        "Sources[0].Action must be omitted if Permissions are specified",
      ],
      [
        intentions({ Sources: [{ Name: "web", Permissions: [{ Action: "allow", HTTP: { PathExact: "x" } }] }] }),
        `Sources[0].Permissions[0].HTTP.PathExact doesn't start with '/': "x"`,
      ],
      [
        intentions({
          Sources: [
            { Name: "web", Action: "allow" },
            { Name: "web", Action: "deny" },
          ],
        }),
        'Sources[1] defines "web" more than once',
      ],
      [
        {
          Kind: "service-intentions",
          Name: "*",
          Sources: [{ Name: "web", Permissions: [{ Action: "allow", HTTP: { PathPrefix: "/" } }] }],
        },
        "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations",
      ],
      [
        intentions({ Sources: [{ Name: "web", Action: "allow", Type: "external" }] }),
        "Sources[0].Type must be set to 'consul'",
      ],
      [
        intentions({ Sources: [{ Name: "web", Action: "allow", LegacyMeta: { a: "b" } }] }),
        "Sources[0].LegacyMeta must be omitted",
      ],
      [
        intentions({ Sources: [{ Name: "web", Action: "allow", Peer: "other" }] }),
        "Request decoding failed: Sources[0] has fields consul-dev does not support: Peer (it takes Name, Action, Permissions, Description, Type, Precedence, LegacyID, LegacyMeta, LegacyCreateTime, LegacyUpdateTime)",
      ],
      [
        { Kind: "service-defaults", Name: "*", Protocol: "grpc" },
        "service-defaults name must be the name of a service, and not a wildcard",
      ],
    ];
    for (const [body, message] of cases) {
      const response = await write(body);
      expect([response.status, await response.text()]).toEqual([400, message]);
    }
    expect((await http("/v1/config/service-intentions/db")).status).toBe(404);
    const badCas = await write(intentions({ Sources: [{ Name: "a", Action: "allow" }] }), "?cas=x");
    expect([badCas.status, await badCas.text()]).toEqual([400, 'strconv.ParseUint: parsing "x": invalid syntax']);
  });

  it("accept an entry read back, ignoring its indexes, precedence and legacy ID", async () => {
    await http(exact("web", "db"), { method: "PUT", body: JSON.stringify({ Action: "allow" }) });
    const read = await entry("db");
    expect((await write(read)).status).toBe(200);
    expect((await entry("db")).Sources).toEqual([{ Name: "web", Action: "allow", Precedence: 9, Type: "consul" }]);
  });
});

describe("service-defaults entries", () => {
  it("store Protocol (lower-cased), list, read and delete", async () => {
    expect(await (await write({ Kind: "service-defaults", Name: "inventory", Protocol: "GRPC" })).json()).toBe(true);
    expect(await json("/v1/config/service-defaults/inventory")).toMatchObject({
      Kind: "service-defaults",
      Name: "inventory",
      Protocol: "grpc",
    });
    expect((await json<EntryJson[]>("/v1/config/service-defaults")).map((each) => each.Name)).toEqual(["inventory"]);
    const unsupported = await write({ Kind: "service-defaults", Name: "inventory", Mode: "transparent" });
    expect(unsupported.status).toBe(400);
    expect(await unsupported.text()).toMatch(/has fields consul-dev does not support: Mode/);
    await http("/v1/config/service-defaults/inventory", { method: "DELETE" });
    expect((await http("/v1/config/service-defaults/inventory")).status).toBe(404);
  });

  it("answers other kinds Consul knows as empty, and unknown kinds as Consul does", async () => {
    expect(await json("/v1/config/proxy-defaults")).toEqual([]);
    const missing = await http("/v1/config/proxy-defaults/global");
    expect([missing.status, await missing.text()]).toEqual([
      404,
      'Config entry not found for "proxy-defaults" / "global"',
    ]);
    const unknown = await http("/v1/config/nope");
    expect([unknown.status, await unknown.text()]).toEqual([400, "invalid config entry kind: nope"]);
  });
});

describe("the compose file's intentions (deploy/compose/intentions/*.json)", () => {
  const files = readdirSync(COMPOSE_INTENTIONS).filter((file) => file.endsWith(".json"));

  it("are each accepted by PUT /v1/config and give the shop's call graph, deny by default", async () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const response = await write(JSON.parse(readFileSync(new URL(file, COMPOSE_INTENTIONS), "utf8")));
      expect([file, response.status, await response.text()]).toEqual([file, 200, "true"]);
    }
    const edges: [string, string, boolean][] = [
      ["gateway", "inventory", true],
      ["order", "inventory", true],
      ["gateway", "order", true],
      ["gateway", "payment", true],
      ["payment", "provider", true],
      ["order", "payment", false],
      ["inventory", "order", false],
      ["gateway", "provider", false],
      ["provider", "payment", false],
    ];
    for (const [source, destination, expected] of edges) {
      expect([source, destination, await allowed(source, destination)]).toEqual([source, destination, expected]);
    }
    expect(await matchDestination("inventory")).toEqual([
      "gateway->inventory:allow",
      "order->inventory:allow",
      "*->*:deny",
    ]);
    expect(await matchDestination("provider")).toEqual(["payment->provider:allow", "*->*:deny"]);
    // Rewriting is idempotent, as write.sh relies on.
    for (const file of files) await write(JSON.parse(readFileSync(new URL(file, COMPOSE_INTENTIONS), "utf8")));
    expect((await json<unknown[]>("/v1/connect/intentions")).length).toBe(6);
  });
});
