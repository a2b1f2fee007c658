import { describe, expect, it } from "vitest";
import { parseConfig } from "./load.ts";

const consul = { address: "127.0.0.1:8500" };

describe("mesh TLS configuration", () => {
  it("is on whenever the sidecar talks to Consul, and off without it", () => {
    expect(parseConfig({ service: "a", consul }).tls.enabled).toBe(true);
    expect(parseConfig({}).tls.enabled).toBe(false);
    expect(parseConfig({ service: "a", consul, tls: { enabled: false } }).tls.enabled).toBe(false);
  });

  it("names what mesh TLS needs: the service's identity and Consul", () => {
    expect(() => parseConfig({ consul })).toThrow(/service: mesh TLS needs the service name/);
    expect(() => parseConfig({ service: "a", tls: { enabled: true } })).toThrow(
      /consul: mesh TLS \(tls\.enabled\) takes/,
    );
  });

  it("keeps the plaintext admin and outbound listeners on loopback", () => {
    const config = { service: "a", consul, admin: { listen: "0.0.0.0:15090" }, outbound: { listen: "10.0.0.5:15001" } };
    const error = (() => {
      try {
        parseConfig(config);
      } catch (thrown) {
        return (thrown as Error).message;
      }
      return "";
    })();
    expect(error).toContain(
      'admin.listen: with mesh TLS this plaintext listener must stay on loopback (127.0.0.1 or [::1]), got "0.0.0.0:15090"',
    );
    expect(error).toContain("outbound.listen: with mesh TLS this plaintext listener must stay on loopback");
    expect(() =>
      parseConfig({ ...config, admin: { listen: "[::1]:15090" }, outbound: { listen: "127.0.0.1:15001" } }),
    ).not.toThrow();
  });
});
