// A certificate authority for tests, built on the same x509 code as consul-dev's CA: a foreign CA, an expired leaf, a
// leaf of another trust domain or naming the wrong service, or a root to PUT into consul-dev's CA configuration.
import {
  createRootCertificate,
  exportPkcs8Pem,
  exportSec1Pem,
  generateKeyPair,
  issueLeafCertificate,
  pemOf,
  randomSerialHex,
} from "./x509.ts";

export interface TestAuthorityOptions {
  /** The trust domain in the root's URI SAN (spiffe://<trustDomain>), e.g. "11111111-2222-3333-4444-555555555555.consul". */
  trustDomain: string;
  /** Default "Test CA <trust domain>". */
  commonName?: string;
  /** Default: an hour ago. */
  notBefore?: Date;
  /** Default: ten years from now. */
  notAfter?: Date;
}

export interface TestLeafOptions {
  /** The URI SAN, e.g. spiffe://<trust-domain>/ns/default/dc/dc1/svc/web; any URI is accepted. */
  spiffeId: string;
  /** Default: a minute ago. */
  notBefore?: Date;
  /** Default: a day from now. A date in the past makes an expired leaf. */
  notAfter?: Date;
  /** Extra DNS SANs. */
  dnsNames?: string[];
}

export interface TestLeaf {
  certPem: string;
  /** SEC1 ("EC PRIVATE KEY"), like the leaves consul-dev hands out. */
  keyPem: string;
}

export interface TestAuthority {
  rootPem: string;
  /** The root's private key, PKCS#8 PEM (what PUT /v1/connect/ca/configuration takes as Config.PrivateKey). */
  keyPem: string;
  issueLeaf(options: TestLeafOptions): Promise<TestLeaf>;
}

/** Makes a self-signed EC P-256 CA that issues mesh-style leaves (serverAuth and clientAuth, not CAs). */
export async function createTestAuthority(options: TestAuthorityOptions): Promise<TestAuthority> {
  const keys = await generateKeyPair(256);
  const now = Date.now();
  const authority = await createRootCertificate({
    keys,
    commonName: options.commonName ?? `Test CA ${options.trustDomain}`,
    trustDomain: options.trustDomain,
    notBefore: options.notBefore ?? new Date(now - 3_600_000),
    notAfter: options.notAfter ?? new Date(now + 10 * 365 * 24 * 3_600_000),
  });
  return {
    rootPem: pemOf(authority.certificate),
    keyPem: await exportPkcs8Pem(keys.privateKey),
    async issueLeaf(leaf) {
      const leafKeys = await generateKeyPair(256);
      const issuedAt = Date.now();
      const certPem = await issueLeafCertificate({
        issuer: authority,
        publicKey: leafKeys.publicKey,
        spiffeId: leaf.spiffeId,
        commonName: leaf.spiffeId.split("/").at(-1) || "leaf",
        dnsNames: leaf.dnsNames,
        notBefore: leaf.notBefore ?? new Date(issuedAt - 60_000),
        notAfter: leaf.notAfter ?? new Date(issuedAt + 24 * 3_600_000),
        serialHex: randomSerialHex(),
      });
      return { certPem, keyPem: await exportSec1Pem(leafKeys.privateKey) };
    },
  };
}
