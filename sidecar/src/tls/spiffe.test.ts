import { describe, expect, it } from "vitest";
import { parseServiceId, serviceIdentityOf, uriSans } from "./spiffe.ts";

const ID = "spiffe://11111111-2222-3333-4444-555555555555.consul/ns/default/dc/dc1/svc/inventory";

describe("SPIFFE service identities", () => {
  it("reads Consul's service identity", () => {
    expect(parseServiceId(ID)).toEqual({
      uri: ID,
      trustDomain: "11111111-2222-3333-4444-555555555555.consul",
      namespace: "default",
      datacenter: "dc1",
      service: "inventory",
    });
  });

  it("rejects what is not a service identity", () => {
    expect(parseServiceId("spiffe://x.consul/agent/client/dc/dc1/id/abc")).toBeUndefined();
    expect(parseServiceId(`${ID}/extra`)).toBeUndefined();
    expect(parseServiceId("https://x.consul/ns/default/dc/dc1/svc/a")).toBeUndefined();
  });

  it("takes URI SANs from Node's subjectaltname, quoted ones included", () => {
    expect(uriSans(`DNS:inventory.svc.default.consul, URI:${ID}`)).toEqual([ID]);
    expect(uriSans('URI:"spiffe://a,b/ns/default/dc/dc1/svc/x"')).toEqual(["spiffe://a,b/ns/default/dc/dc1/svc/x"]);
    expect(uriSans(undefined)).toEqual([]);
  });

  it("says why a certificate carries no single identity", () => {
    expect(serviceIdentityOf("DNS:example.com")).toBe("no SPIFFE ID");
    expect(serviceIdentityOf(`URI:${ID}, URI:${ID}`)).toBe("more than one SPIFFE ID");
    expect(typeof serviceIdentityOf(`URI:${ID}`)).toBe("object");
  });
});
