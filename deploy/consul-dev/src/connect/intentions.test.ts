import { describe, expect, it } from "vitest";
import {
  byPrecedence,
  decidingIntention,
  describeIntention,
  type Intention,
  IntentionStore,
  matches,
  precedence,
} from "./intentions.ts";

function store() {
  let index = 10;
  return new IntentionStore(
    () => ++index,
    () => Date.UTC(2025, 0, 1),
  );
}

const names = (list: Intention[]) => list.map((each) => `${each.source}->${each.destination}`);

describe("precedence (Consul's numbers for the default namespace)", () => {
  it("ranks exact->exact 9, *->exact 8, exact->* 6, *->* 5", () => {
    expect(precedence("web", "db")).toBe(9);
    expect(precedence("*", "db")).toBe(8);
    expect(precedence("web", "*")).toBe(6);
    expect(precedence("*", "*")).toBe(5);
  });

  it("sorts highest first, ties by source then destination", () => {
    const intentions = store();
    intentions.upsert("*", "*", { action: "deny" });
    intentions.upsert("web", "*", { action: "allow" });
    intentions.upsert("*", "db", { action: "deny" });
    intentions.upsert("web", "db", { action: "allow" });
    intentions.upsert("api", "db", { action: "allow" });
    intentions.upsert("api", "*", { action: "allow" });
    expect(names(intentions.list())).toEqual(["api->db", "web->db", "*->db", "api->*", "web->*", "*->*"]);
    expect(names([...intentions.list()].reverse().sort(byPrecedence))).toEqual(names(intentions.list()));
  });
});

describe("matching", () => {
  const intentions = store();
  intentions.upsert("*", "*", { action: "deny" });
  intentions.upsert("web", "db", { action: "allow" });
  intentions.upsert("*", "db", { action: "deny" });
  intentions.upsert("web", "*", { action: "allow" });
  intentions.upsert("api", "cache", { action: "allow" });

  it("matches a name as destination or source, wildcards included, in precedence order", () => {
    // By destination, every source counts: web->* applies to db as much as *->db does.
    expect(names(intentions.match("destination", "db"))).toEqual(["web->db", "*->db", "web->*", "*->*"]);
    expect(names(intentions.match("source", "web"))).toEqual(["web->db", "*->db", "web->*", "*->*"]);
    expect(names(intentions.match("destination", "nothing"))).toEqual(["web->*", "*->*"]);
    expect(names(intentions.match("source", "api"))).toEqual(["api->cache", "*->db", "*->*"]);
    expect(matches(intentions.get("*", "db") as Intention, "destination", "other")).toBe(false);
  });

  it("lets the most specific intention decide", () => {
    const all = intentions.list();
    expect(decidingIntention(all, "web", "db")?.action).toBe("allow");
    expect(decidingIntention(all, "api", "db")?.action).toBe("deny");
    expect(decidingIntention(all, "web", "cache")?.action).toBe("allow");
    expect(decidingIntention(all, "api", "cache")?.action).toBe("allow");
    expect(decidingIntention(all, "api", "other")).toMatchObject({ source: "*", destination: "*" });
    expect(decidingIntention([], "api", "other")).toBeUndefined();
  });
});

describe("the store", () => {
  it("keeps one intention per pair: an update keeps ID and creation, advances the index", () => {
    const intentions = store();
    const first = intentions.upsert("web", "db", { action: "allow", description: "first" });
    const second = intentions.upsert("web", "db", {
      permissions: [{ Action: "allow", HTTP: { PathPrefix: "/shop.v1.Db/" } }],
    });
    expect(second.id).toBe(first.id);
    expect(second.createIndex).toBe(first.createIndex);
    expect(second.modifyIndex).toBeGreaterThan(first.modifyIndex);
    expect(second.action).toBeUndefined();
    expect(intentions.list()).toHaveLength(1);
    expect(intentions.index()).toBe(second.modifyIndex);
  });

  it("counts deletes in its index, and only real ones", () => {
    const intentions = store();
    intentions.upsert("web", "db", { action: "allow" });
    const before = intentions.index();
    expect(intentions.remove("web", "db")).toBe(true);
    expect(intentions.index()).toBeGreaterThan(before);
    const after = intentions.index();
    expect(intentions.remove("web", "db")).toBe(false);
    expect(intentions.index()).toBe(after);
  });

  it("describes intentions as Consul's Intention.String does", () => {
    const intentions = store();
    const l4 = intentions.upsert("web", "db", { action: "allow" });
    const l7 = intentions.upsert("*", "db", { permissions: [{ Action: "deny", HTTP: { PathExact: "/x" } }] });
    expect(describeIntention(l4)).toBe(`web => db (ID: ${l4.id}, Precedence: 9, Action: ALLOW)`);
    expect(describeIntention(l7)).toBe(`* => db (ID: ${l7.id}, Precedence: 8, Permissions: 1)`);
  });
});

describe("service-intentions entries", () => {
  it("hold a destination's sources, highest precedence first, shared with the per-pair view", () => {
    const intentions = store();
    intentions.upsert("web", "db", { action: "allow", meta: { team: "a" } });
    expect(
      intentions.writeEntry(
        "db",
        [
          { name: "*", action: "deny" },
          { name: "api", action: "allow" },
        ],
        { k: "v" },
      ),
    ).toBe(true);
    const entry = intentions.entry("db");
    // Replaced whole: web is gone, and the written sources carry no legacy ID.
    expect(entry?.sources.map((each) => [each.name, each.precedence, each.legacy])).toEqual([
      ["api", 9, undefined],
      ["*", 8, undefined],
    ]);
    expect(intentions.get("web", "db")).toBeUndefined();
    expect(intentions.get("api", "db")).toMatchObject({ id: "", meta: { k: "v" }, modifyIndex: entry?.modifyIndex });
    expect(describeIntention(intentions.get("api", "db") as Intention)).toBe(
      "api => db (Precedence: 9, Action: ALLOW)",
    );
  });

  it("write and delete with check-and-set, and drop an entry whose last source goes", () => {
    const intentions = store();
    expect(intentions.writeEntry("db", [{ name: "web", action: "allow" }], {}, 5)).toBe(false);
    expect(intentions.writeEntry("db", [{ name: "web", action: "allow" }], {}, 0)).toBe(true);
    const index = intentions.entry("db")?.modifyIndex as number;
    expect(intentions.writeEntry("db", [{ name: "web", action: "deny" }], {}, 0)).toBe(false);
    expect(intentions.writeEntry("db", [{ name: "web", action: "deny" }], {}, index)).toBe(true);
    expect(intentions.deleteEntry("db", index)).toBe(false);
    intentions.upsert("api", "db", { action: "allow" });
    expect(intentions.entry("db")?.sources.map((each) => each.name)).toEqual(["web", "api"]);
    intentions.remove("web", "db");
    intentions.remove("api", "db");
    expect(intentions.entry("db")).toBeUndefined();
    expect(intentions.entries()).toEqual([]);
  });
});
