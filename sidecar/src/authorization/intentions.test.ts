import { describe, expect, it } from "vitest";
import { type CallFacts, decide, type Intention } from "./intentions.ts";

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
});
