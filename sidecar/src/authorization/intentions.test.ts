import { describe, expect, it } from "vitest";
import { type CallFacts, compileIntentions, decide, type Intention } from "./intentions.ts";

const call = (
  source: string,
  path = "/shop.inventory.v1.InventoryService/GetStock",
  headers: Record<string, string> = {},
): CallFacts => ({
  source,
  path,
  method: "POST",
  header: (name) => headers[name],
});

// As the match endpoint orders them: highest precedence first.
const denyAll: Intention = { SourceName: "*", DestinationName: "*", Action: "deny", Precedence: 5 };
const gatewayAllowed: Intention = {
  SourceName: "gateway",
  DestinationName: "inventory",
  Action: "allow",
  Precedence: 9,
};
const orderReadsOnly: Intention = {
  SourceName: "order",
  DestinationName: "inventory",
  Precedence: 9,
  Permissions: [
    { Action: "deny", HTTP: { PathExact: "/shop.inventory.v1.InventoryService/AdjustStock" } },
    { Action: "allow", HTTP: { PathPrefix: "/shop.inventory.v1.InventoryService/" } },
  ],
};

describe("decide", () => {
  it("lets the exact intention win over the wildcard deny", () => {
    const decision = decide([gatewayAllowed, denyAll], call("gateway"), true);
    expect(decision).toEqual({ allowed: true, reason: "intention gateway -> inventory allows it" });
  });

  it("denies by the * -> * intention when nothing more precise matches", () => {
    const decision = decide([gatewayAllowed, denyAll], call("payment"), true);
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe("intention * -> * denies it");
  });

  it("falls to the agent's default ACL policy without any intention", () => {
    expect(decide([], call("payment"), true).allowed).toBe(true);
    expect(decide([], call("payment"), false)).toEqual({
      allowed: false,
      reason: "no intention matches; the default ACL policy denies it",
    });
  });

  it("evaluates L7 permissions top to bottom, the first match deciding", () => {
    const intentions = [orderReadsOnly, denyAll];
    expect(decide(intentions, call("order"), true).allowed).toBe(true);
    const denied = decide(intentions, call("order", "/shop.inventory.v1.InventoryService/AdjustStock"), true);
    expect(denied).toEqual({ allowed: false, reason: "permission 1 of intention order -> inventory denies it" });
  });

  it("sends an L7 intention that matches no permission to the default, not to a lower intention", () => {
    const starAllowed: Intention = { SourceName: "*", DestinationName: "inventory", Action: "allow", Precedence: 8 };
    const decision = decide(
      [orderReadsOnly, starAllowed, denyAll],
      call("order", "/grpc.health.v1.Health/Check"),
      true,
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe(
      "no permission of intention order -> inventory matches; the default intention * -> * denies it",
    );
  });

  it("matches permissions on headers and methods", () => {
    const byHeader: Intention = {
      SourceName: "gateway",
      DestinationName: "inventory",
      Precedence: 9,
      Permissions: [
        { Action: "allow", HTTP: { PathPrefix: "/", Methods: ["POST"], Header: [{ Name: "x-tenant", Exact: "a" }] } },
      ],
    };
    expect(decide([byHeader], call("gateway", "/a.B/C", { "x-tenant": "a" }), false).allowed).toBe(true);
    expect(decide([byHeader], call("gateway", "/a.B/C", { "x-tenant": "b" }), false).allowed).toBe(false);
  });

  describe("regexes (RE2, compiled once when the intentions change)", () => {
    const byRegex = (regex: string, extra: Partial<Intention> = {}): Intention => ({
      SourceName: "gateway",
      DestinationName: "inventory",
      Precedence: 9,
      Permissions: [{ Action: "allow", HTTP: { Header: [{ Name: "Authorization", Regex: regex }] } }],
      ...extra,
    });

    it("takes RE2 syntax such as (?i), matching the whole value", () => {
      const compiled = compileIntentions([byRegex("(?i)^bearer .*")]);
      expect(compiled.problems).toEqual([]);
      const bearer = (value: string) => decide(compiled, call("gateway", "/a.B/C", { authorization: value }), false);
      expect(bearer("Bearer x").allowed).toBe(true);
      expect(bearer("BEARER y").allowed).toBe(true);
      expect(bearer("Basic z").allowed).toBe(false);
    });

    it("matches a pattern that backtracks in JavaScript against a long adversarial value", () => {
      const compiled = compileIntentions([byRegex("(a|aa)+$")]);
      const value = (text: string) => decide(compiled, call("gateway", "/a.B/C", { authorization: text }), false);
      // A backtracking engine takes minutes on this; RE2 is linear in the value's length.
      expect(value(`${"a".repeat(48)}!`).allowed).toBe(false);
      expect(value("a".repeat(48)).allowed).toBe(true);
    });

    it("denies, without throwing, at a permission whose regex RE2 does not compile", () => {
      const laterAllow: Intention = {
        ...byRegex("unused"),
        Permissions: [
          { Action: "deny", HTTP: { PathPrefix: "/a.B/", Header: [{ Name: "x-user", Regex: "(a" }] } },
          { Action: "allow", HTTP: { PathPrefix: "/" } },
        ],
      };
      const compiled = compileIntentions([laterAllow]);
      expect(compiled.problems).toHaveLength(1);
      expect(compiled.problems[0]).toMatch(
        /^permission 1 of intention gateway -> inventory: header x-user Regex "\(a"/,
      );
      const decision = decide(compiled, call("gateway", "/a.B/C", { "x-user": "a" }), true);
      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain("RE2 does not compile");
      // Its plain conditions still decide first: a path it never covers goes on to the next permission.
      expect(decide(compiled, call("gateway", "/c.D/E"), true).allowed).toBe(true);
      // A lookbehind (JavaScript syntax, not RE2) is refused the same way, in a path regex too.
      const lookbehind = compileIntentions([
        { ...laterAllow, Permissions: [{ Action: "allow", HTTP: { PathRegex: "/(?<=a)b" } }] },
      ]);
      expect(lookbehind.problems).toHaveLength(1);
      expect(decide(lookbehind, call("gateway", "/ab"), true).allowed).toBe(false);
    });
  });
});
