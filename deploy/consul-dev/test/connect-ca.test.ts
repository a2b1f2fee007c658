import { createPrivateKey, X509Certificate } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestAuthority, type RunningConsulDev, startConsulDev } from "../src/index.ts";

// The Connect CA over HTTP, checked the way a sidecar would: certificates parsed and verified with Node's own X.509
// and TLS, not with the code that made them.
type Root = {
  ID: string;
  Name: string;
  SerialNumber: number;
  SigningKeyID: string;
  RootCert: string;
  IntermediateCerts: string[];
  Active: boolean;
  PrivateKeyType: string;
  PrivateKeyBits: number;
  NotAfter: string;
};
type Roots = { ActiveRootID: string; TrustDomain: string; Roots: Root[] };
type Leaf = {
  SerialNumber: string;
  CertPEM: string;
  PrivateKeyPEM: string;
  Service: string;
  ServiceURI: string;
  ValidAfter: string;
  ValidBefore: string;
  CreateIndex: number;
  ModifyIndex: number;
};

const CLUSTER_ID = "11111111-2222-4333-8444-555555555555";
const TRUST_DOMAIN = `${CLUSTER_ID}.consul`;
let agent: RunningConsulDev;

beforeAll(async () => {
  agent = await startConsulDev({ port: 0, nodeName: "dev-node", clusterId: CLUSTER_ID });
});
afterAll(() => agent.stop());

const get = (target: RunningConsulDev, path: string) => fetch(`${target.url}${path}`);
const json = async <T>(target: RunningConsulDev, path: string) => (await (await get(target, path)).json()) as T;
const putConfig = (target: RunningConsulDev, body: unknown) =>
  fetch(`${target.url}/v1/connect/ca/configuration`, { method: "PUT", body: JSON.stringify(body) });

/** The certificates of a PEM bundle, in order. */
function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (each) => new X509Certificate(each),
  );
}

/** Whether a TLS client trusting only `ca` accepts a server presenting `certPem` (leaf plus chain) and `keyPem`. */
async function tlsAccepts(certPem: string, keyPem: string, ca: string[]): Promise<boolean> {
  const server = createServer({ cert: certPem, key: keyPem, minVersion: "TLSv1.3" }, (socket) => socket.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const socket = connect({
      host: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      ca,
      checkServerIdentity: () => undefined,
    });
    const outcome = await new Promise<boolean>((resolve) => {
      socket.once("secureConnect", () => resolve(true));
      socket.once("error", () => resolve(false));
    });
    socket.destroy();
    return outcome;
  } finally {
    server.close();
  }
}

describe("roots", () => {
  it("serves one active EC P-256 root with a SPIFFE trust-domain SAN, the same on the agent endpoint", async () => {
    const response = await get(agent, "/v1/connect/ca/roots");
    expect(Number(response.headers.get("x-consul-index"))).toBeGreaterThanOrEqual(1);
    const roots = (await response.json()) as Roots;
    expect(roots.TrustDomain).toBe(TRUST_DOMAIN);
    expect(roots.Roots).toHaveLength(1);
    const [root] = roots.Roots as [Root];
    expect(root).toMatchObject({
      ID: roots.ActiveRootID,
      Name: "Consul CA Primary Cert",
      Active: true,
      PrivateKeyType: "ec",
      PrivateKeyBits: 256,
      IntermediateCerts: [],
    });
    expect(root.ID).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    expect(typeof root.SerialNumber).toBe("number");
    const cert = new X509Certificate(root.RootCert);
    expect(cert.ca).toBe(true);
    expect(cert.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}`);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.checkIssued(cert)).toBe(true);
    // The subject key identifier (SHA-1 of the key), in colon hex.
    expect(root.SigningKeyID).toMatch(/^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    expect(new Date(root.NotAfter).getTime()).toBe(new Date(cert.validTo).getTime());
    expect(await json(agent, "/v1/agent/connect/ca/roots")).toEqual(roots);
  });

  it("answers ?pem=true with the roots as a PEM chain, and rejects a non-boolean", async () => {
    const response = await get(agent, "/v1/connect/ca/roots?pem=true");
    expect(response.headers.get("content-type")).toBe("application/pem-certificate-chain");
    const roots = await json<Roots>(agent, "/v1/connect/ca/roots");
    expect(await response.text()).toBe(roots.Roots.map((root) => root.RootCert).join(""));
    const bad = await get(agent, "/v1/connect/ca/roots?pem=maybe");
    expect([bad.status, await bad.text()]).toEqual([400, "The 'pem' query parameter must be a boolean value"]);
  });
});

describe("leaf certificates", () => {
  it("issues a P-256 leaf naming the service by SPIFFE ID, chained to the root", async () => {
    const response = await get(agent, "/v1/agent/connect/ca/leaf/web");
    expect(response.status).toBe(200);
    const leaf = (await response.json()) as Leaf;
    expect(Number(response.headers.get("x-consul-index"))).toBe(leaf.ModifyIndex);
    const uri = `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/web`;
    expect(leaf).toMatchObject({ Service: "web", ServiceURI: uri });
    expect(leaf.SerialNumber).toMatch(/^([0-9a-f]{2}:)+[0-9a-f]{2}$/);
    // An EC P-256 key in SEC1 form, as Consul hands leaf keys out: re-exported as SEC1 it is the same text.
    const key = createPrivateKey(leaf.PrivateKeyPEM);
    expect(key.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(key.export({ format: "pem", type: "sec1" })).toBe(leaf.PrivateKeyPEM);
    const [cert, ...rest] = certificates(leaf.CertPEM) as [X509Certificate];
    expect(rest).toEqual([]);
    expect(cert.subjectAltName).toBe(`URI:${uri}, DNS:web.svc.default.${TRUST_DOMAIN.slice(0, 8)}.consul`);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.serialNumber.toLowerCase()).toBe(leaf.SerialNumber.replaceAll(":", ""));
    const root = new X509Certificate((await json<Roots>(agent, "/v1/connect/ca/roots")).Roots[0]?.RootCert ?? "");
    expect(cert.checkIssued(root)).toBe(true);
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.PrivateKeyPEM))).toBe(true);
    // Valid from a minute back (clock skew) for LeafCertTTL (72h by default).
    const validFrom = new Date(cert.validFrom).getTime();
    const validTo = new Date(cert.validTo).getTime();
    expect(Date.now() - validFrom).toBeGreaterThanOrEqual(55_000);
    expect(validTo - validFrom).toBe(72 * 3_600_000 + 60_000);
    expect([new Date(leaf.ValidAfter).getTime(), new Date(leaf.ValidBefore).getTime()]).toEqual([validFrom, validTo]);
    expect(await tlsAccepts(leaf.CertPEM, leaf.PrivateKeyPEM, [root.toString()])).toBe(true);
  });

  it("keeps the same leaf for the same service until it renews, and a leaf per service", async () => {
    const first = await json<Leaf>(agent, "/v1/agent/connect/ca/leaf/web");
    const again = await json<Leaf>(agent, "/v1/agent/connect/ca/leaf/web");
    const other = await json<Leaf>(agent, "/v1/agent/connect/ca/leaf/api");
    expect(again.SerialNumber).toBe(first.SerialNumber);
    expect(other.SerialNumber).not.toBe(first.SerialNumber);
    expect(other.ServiceURI).toMatch(/\/svc\/api$/);
  });

  it("refuses service names a SPIFFE ID cannot carry", async () => {
    const bad = await get(agent, "/v1/agent/connect/ca/leaf/we%20b");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^Invalid service name "we b"/);
    const empty = await get(agent, "/v1/agent/connect/ca/leaf/");
    expect([empty.status, await empty.text()]).toEqual([500, "URI must be either service, agent, server, or kind"]);
  });

  it("renews a leaf before it expires, waking a blocking query with the new certificate", async () => {
    const short = await startConsulDev({
      port: 0,
      leafCertTtlMs: 2000,
      leafRenewalWindow: { from: 0.5, to: 0.5 },
    });
    try {
      const response = await get(short, "/v1/agent/connect/ca/leaf/web");
      const first = (await response.json()) as Leaf;
      const started = Date.now();
      const next = await get(short, `/v1/agent/connect/ca/leaf/web?index=${response.headers.get("x-consul-index")}`);
      const renewed = (await next.json()) as Leaf;
      expect(Date.now() - started).toBeLessThan(1900);
      expect(renewed.SerialNumber).not.toBe(first.SerialNumber);
      expect(Number(next.headers.get("x-consul-index"))).toBe(renewed.ModifyIndex);
      expect(renewed.ModifyIndex).toBeGreaterThan(first.ModifyIndex);
      expect(new Date(renewed.ValidBefore).getTime()).toBeGreaterThan(new Date(first.ValidBefore).getTime());
    } finally {
      await short.stop();
    }
  });
});

describe("configuration", () => {
  it("shows Consul's defaults", async () => {
    const response = await get(agent, "/v1/connect/ca/configuration");
    expect(await response.json()).toMatchObject({
      Provider: "consul",
      Config: {
        LeafCertTTL: "72h",
        RootCertTTL: "87600h",
        IntermediateCertTTL: "8760h",
        PrivateKeyType: "ec",
        PrivateKeyBits: 256,
      },
      ForceWithoutCrossSigning: false,
    });
  });

  it("rejects bad configurations with Consul's texts", async () => {
    const cases: [unknown, string][] = [
      [{ Provider: "nope", Config: {} }, 'unknown CA provider "nope"'],
      [{ Provider: "vault", Config: {} }, 'consul-dev supports only the "consul" CA provider, not "vault"'],
      [
        { Provider: "consul", Config: { LeafCertTTL: "soon" } },
        "error decoding config: 1 error(s) decoding:\n\n* error decoding 'LeafCertTTL': time: invalid duration \"soon\"",
      ],
      [{ Provider: "consul", Config: { LeafCertTTL: "10m" } }, "leaf cert TTL must be greater or equal than 1h0m0s"],
      [{ Provider: "consul", Config: { LeafCertTTL: "9000h" } }, "leaf cert TTL must be less than 8760h0m0s"],
      [
        { Provider: "consul", Config: { LeafCertTTL: "4000h" } },
        "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=12000h0m0s).",
      ],
      [{ Provider: "consul", Config: { PrivateKeyType: "dsa" } }, "private key type must be either 'ec' or 'rsa'"],
      [
        { Provider: "consul", Config: { PrivateKeyBits: 300 } },
        "EC key length must be one of (224, 256, 384, 521) bits",
      ],
      [{ Provider: "consul", Config: { RootCert: "x" } }, "must provide a private key when providing a root cert"],
      [{ Provider: "consul", Config: { PrivateKey: "not a key", RootCert: "x" } }, "error parsing private key"],
    ];
    for (const [body, message] of cases) {
      const response = await putConfig(agent, body);
      expect(response.status).toBe(400);
      expect(await response.text()).toContain(message);
    }
    const foreign = await createTestAuthority({ trustDomain: "other.consul" });
    const another = await createTestAuthority({ trustDomain: "other.consul" });
    const mismatch = await putConfig(agent, {
      Provider: "consul",
      Config: { PrivateKey: another.keyPem, RootCert: foreign.rootPem },
    });
    expect([mismatch.status, await mismatch.text()]).toEqual([
      400,
      "private key does not match the root cert's public key",
    ]);
    const leaf = await foreign.issueLeaf({ spiffeId: "spiffe://other.consul/ns/default/dc/dc1/svc/x" });
    const notCa = await putConfig(agent, {
      Provider: "consul",
      Config: { PrivateKey: leaf.keyPem, RootCert: leaf.certPem },
    });
    expect([notCa.status, await notCa.text()]).toEqual([
      400,
      "root cert is not a CA certificate (basic constraints CA:TRUE missing)",
    ]);
  });

  it("applies a new LeafCertTTL to leaves issued from then on, without rotating", async () => {
    const before = await json<Roots>(agent, "/v1/connect/ca/roots");
    const response = await putConfig(agent, { Provider: "consul", Config: { LeafCertTTL: "2h" } });
    expect([response.status, await response.text()]).toEqual([200, ""]);
    expect((await json<Roots>(agent, "/v1/connect/ca/roots")).ActiveRootID).toBe(before.ActiveRootID);
    const leaf = await json<Leaf>(agent, "/v1/agent/connect/ca/leaf/fresh");
    const cert = new X509Certificate(leaf.CertPEM);
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(2 * 3_600_000 + 60_000);
    expect(await json(agent, "/v1/connect/ca/configuration")).toMatchObject({ Config: { LeafCertTTL: "2h" } });
  });
});

describe("rotation", () => {
  it("rotates to a new root on a key-size change: both trusted, leaves re-issued and cross-signed", async () => {
    const rotating = await startConsulDev({ port: 0, clusterId: CLUSTER_ID });
    try {
      const rootsResponse = await get(rotating, "/v1/connect/ca/roots");
      const before = (await rootsResponse.json()) as Roots;
      const leafResponse = await get(rotating, "/v1/agent/connect/ca/leaf/web");
      const oldLeaf = (await leafResponse.json()) as Leaf;
      // Both watchers are blocked before the change.
      const rootsWatch = get(rotating, `/v1/connect/ca/roots?index=${rootsResponse.headers.get("x-consul-index")}`);
      const leafWatch = get(
        rotating,
        `/v1/agent/connect/ca/leaf/web?index=${leafResponse.headers.get("x-consul-index")}`,
      );

      const same = await putConfig(rotating, {
        Provider: "consul",
        Config: { PrivateKeyType: "ec", PrivateKeyBits: 256 },
      });
      expect(same.status).toBe(200);
      expect((await json<Roots>(rotating, "/v1/connect/ca/roots")).ActiveRootID).toBe(before.ActiveRootID);

      const response = await putConfig(rotating, { Provider: "consul", Config: { PrivateKeyBits: 384 } });
      expect(response.status).toBe(200);
      const after = (await (await rootsWatch).json()) as Roots;
      expect(after.Roots).toHaveLength(2);
      const oldRoot = after.Roots.find((root) => root.ID === before.ActiveRootID) as Root;
      const newRoot = after.Roots.find((root) => root.ID === after.ActiveRootID) as Root;
      expect(oldRoot.Active).toBe(false);
      expect(newRoot).toMatchObject({ Active: true, PrivateKeyBits: 384 });
      expect(newRoot.IntermediateCerts).toHaveLength(1);

      const newLeaf = (await (await leafWatch).json()) as Leaf;
      expect(newLeaf.SerialNumber).not.toBe(oldLeaf.SerialNumber);
      const [leafCert, crossSigned, ...extra] = certificates(newLeaf.CertPEM) as [X509Certificate, X509Certificate];
      expect(extra).toEqual([]);
      const oldRootCert = new X509Certificate(oldRoot.RootCert);
      const newRootCert = new X509Certificate(newRoot.RootCert);
      // The leaf chains to the new root directly...
      expect(leafCert.checkIssued(newRootCert) && leafCert.verify(newRootCert.publicKey)).toBe(true);
      // ...and, through the cross-signed certificate (the new root's key, signed by the old one), to the old root.
      expect(crossSigned.subject).toBe(newRootCert.subject);
      expect(leafCert.checkIssued(crossSigned) && leafCert.verify(crossSigned.publicKey)).toBe(true);
      expect(crossSigned.checkIssued(oldRootCert) && crossSigned.verify(oldRootCert.publicKey)).toBe(true);
      expect(crossSigned.toString()).toBe(new X509Certificate(newRoot.IntermediateCerts[0] as string).toString());
      // What a TLS peer sees: trusting only the old root, or only the new one, it accepts the new leaf.
      expect(await tlsAccepts(newLeaf.CertPEM, newLeaf.PrivateKeyPEM, [oldRoot.RootCert])).toBe(true);
      expect(await tlsAccepts(newLeaf.CertPEM, newLeaf.PrivateKeyPEM, [newRoot.RootCert])).toBe(true);
      // Without the cross-signed certificate, an old-root-only peer would refuse it.
      expect(await tlsAccepts(leafCert.toString(), newLeaf.PrivateKeyPEM, [oldRoot.RootCert])).toBe(false);
      // The pem form lists every root and the intermediates.
      expect(certificates(await (await get(rotating, "/v1/connect/ca/roots?pem=true")).text())).toHaveLength(3);
    } finally {
      await rotating.stop();
    }
  });

  it("installs an operator's root (PrivateKey and RootCert) as the active one", async () => {
    const rotating = await startConsulDev({ port: 0, clusterId: CLUSTER_ID });
    try {
      const own = await createTestAuthority({ trustDomain: TRUST_DOMAIN });
      const response = await putConfig(rotating, {
        Provider: "consul",
        Config: { PrivateKey: own.keyPem, RootCert: own.rootPem },
      });
      expect([response.status, await response.text()]).toEqual([200, ""]);
      const roots = await json<Roots>(rotating, "/v1/connect/ca/roots");
      const active = roots.Roots.find((root) => root.Active) as Root;
      expect(new X509Certificate(active.RootCert).toString()).toBe(new X509Certificate(own.rootPem).toString());
      expect(roots.Roots).toHaveLength(2);
      const leaf = await json<Leaf>(rotating, "/v1/agent/connect/ca/leaf/web");
      expect(await tlsAccepts(leaf.CertPEM, leaf.PrivateKeyPEM, [own.rootPem])).toBe(true);
      // Putting the same root again changes nothing.
      await putConfig(rotating, { Provider: "consul", Config: { PrivateKey: own.keyPem, RootCert: own.rootPem } });
      expect((await json<Roots>(rotating, "/v1/connect/ca/roots")).Roots).toHaveLength(2);
    } finally {
      await rotating.stop();
    }
  });
});

describe("createTestAuthority", () => {
  it("issues leaves with any SPIFFE ID and validity, verifiable against its root", async () => {
    const authority = await createTestAuthority({ trustDomain: "foreign.consul" });
    const root = new X509Certificate(authority.rootPem);
    expect(root.ca).toBe(true);
    const expired = await authority.issueLeaf({
      spiffeId: "spiffe://foreign.consul/ns/default/dc/dc1/svc/web",
      notBefore: new Date(Date.now() - 7_200_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    const cert = new X509Certificate(expired.certPem);
    expect(cert.subjectAltName).toBe("URI:spiffe://foreign.consul/ns/default/dc/dc1/svc/web");
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeLessThan(Date.now());
    expect(await tlsAccepts(expired.certPem, expired.keyPem, [authority.rootPem])).toBe(false);
    const valid = await authority.issueLeaf({ spiffeId: "spiffe://foreign.consul/ns/default/dc/dc1/svc/api" });
    expect(await tlsAccepts(valid.certPem, valid.keyPem, [authority.rootPem])).toBe(true);
    const consulRoot = (await json<Roots>(agent, "/v1/connect/ca/roots")).Roots[0]?.RootCert as string;
    expect(await tlsAccepts(valid.certPem, valid.keyPem, [consulRoot])).toBe(false);
  });
});
