// The one module that builds certificates: @peculiar/x509 on Node's WebCrypto. x509 reads decorator metadata at
// import time, so reflect-metadata must load first (the import order below is load-bearing).
import "reflect-metadata";
import { createHash, createPrivateKey, createPublicKey, randomBytes, type webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

const crypto = globalThis.crypto;
x509.cryptoProvider.set(crypto);

/** The EC key sizes consul-dev's CA can make (WebCrypto has no P-224); Consul's default is 256. */
export const EC_KEY_BITS = [256, 384, 521] as const;
export type EcKeyBits = (typeof EC_KEY_BITS)[number];

const CURVES: Record<EcKeyBits, string> = { 256: "P-256", 384: "P-384", 521: "P-521" };
/** Go's x509 signs with the hash that matches the curve: SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521. */
const HASHES: Record<string, string> = { "P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512" };
const NODE_CURVES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

export type KeyPair = webcrypto.CryptoKeyPair;
export type CryptoKey = webcrypto.CryptoKey;

/** An ECDSA key pair; leaves are always P-256, as Consul's agent makes them. */
export function generateKeyPair(bits: EcKeyBits = 256): Promise<KeyPair> {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: CURVES[bits] }, true, [
    "sign",
    "verify",
  ]) as Promise<KeyPair>;
}

function curveOf(key: CryptoKey): string {
  return (key.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
}

function signingAlgorithm(key: CryptoKey) {
  return { name: "ECDSA", hash: HASHES[curveOf(key)] ?? "SHA-256" };
}

/** The key size of an EC key, as Consul reports it in PrivateKeyBits. */
export function keyBits(key: CryptoKey): EcKeyBits {
  const curve = curveOf(key);
  return (Number(Object.entries(CURVES).find(([, name]) => name === curve)?.[0]) || 256) as EcKeyBits;
}

/** "aa:bb:cc": the colon-separated hex Consul writes serial numbers and key IDs in. */
export function colonHex(hex: string): string {
  return (hex.length % 2 ? `0${hex}` : hex).match(/../g)?.join(":") ?? "";
}

/** A random positive serial number (hex), 8 bytes with the top bit clear so DER keeps it positive. */
export function randomSerialHex(): string {
  const bytes = randomBytes(8);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

/** PEM ending in a newline, as Go's pem.Encode writes it (Consul's RootCert and CertPEM). */
export function pemOf(certificate: x509.X509Certificate): string {
  return `${certificate.toString("pem").trimEnd()}\n`;
}

export interface CertificateInfo {
  pem: string;
  serialHex: string;
  subjectKeyId: string;
  notBefore: Date;
  notAfter: Date;
  /** Consul's root ID: the SHA-256 fingerprint of the DER certificate in colon hex. */
  fingerprint: string;
  isCa: boolean;
  uris: string[];
}

export function describeCertificate(pem: string): CertificateInfo {
  const cert = new x509.X509Certificate(pem);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return {
    pem: pemOf(cert),
    serialHex: cert.serialNumber,
    subjectKeyId: ski?.keyId ?? "",
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    fingerprint: colonHex(createHash("sha256").update(Buffer.from(cert.rawData)).digest("hex")),
    isCa: basic?.ca ?? false,
    uris: san?.names.items.filter((name) => name.type === "url").map((name) => name.value) ?? [],
  };
}

/** A CA: its certificate (parsed) and signing key. */
export interface SigningAuthority {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

export interface RootParams {
  keys: KeyPair;
  commonName: string;
  /** Consul puts `spiffe://<trust-domain>` in its roots' URI SAN. */
  trustDomain: string;
  notBefore: Date;
  notAfter: Date;
  serialHex?: string;
}

const caExtensions = async (publicKey: CryptoKey, trustDomain: string) => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(
    x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    true,
  ),
  await x509.SubjectKeyIdentifierExtension.create(publicKey),
  new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
];

export async function createRootCertificate(params: RootParams): Promise<SigningAuthority> {
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: params.serialHex ?? randomSerialHex(),
    name: `CN=${params.commonName}`,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    keys: params.keys,
    signingAlgorithm: signingAlgorithm(params.keys.privateKey),
    extensions: await caExtensions(params.keys.publicKey, params.trustDomain),
  });
  return { certificate, privateKey: params.keys.privateKey };
}

/**
 * Re-signs a root with another CA's key: same subject, public key and extensions, issued by `issuer`. Consul does this
 * on rotation so that holders of only the old root still accept leaves of the new one (leaf -> cross-signed -> old).
 */
export async function crossSign(root: x509.X509Certificate, issuer: SigningAuthority): Promise<string> {
  const issuerKeyId = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const kept = root.extensions.filter((extension) => extension.type !== x509.AuthorityKeyIdentifierExtension.NAME);
  const extensions = issuerKeyId ? [...kept, new x509.AuthorityKeyIdentifierExtension(issuerKeyId)] : kept;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: root.subjectName,
    issuer: issuer.certificate.subjectName,
    notBefore: root.notBefore,
    // A cross-signed certificate cannot outlive the CA that signs it.
    notAfter: new Date(Math.min(root.notAfter.getTime(), issuer.certificate.notAfter.getTime())),
    publicKey: await root.publicKey.export(),
    signingKey: issuer.privateKey,
    signingAlgorithm: signingAlgorithm(issuer.privateKey),
    extensions,
  });
  return pemOf(certificate);
}

export interface LeafParams {
  issuer: SigningAuthority;
  /** The leaf's own public key. */
  publicKey: CryptoKey;
  /** The URI SAN, e.g. spiffe://<trust-domain>/ns/default/dc/dc1/svc/web. */
  spiffeId: string;
  commonName: string;
  dnsNames?: string[];
  notBefore: Date;
  notAfter: Date;
  serialHex?: string;
}

/** A mesh leaf as Consul issues them: not a CA, TLS server and client use, named by its SPIFFE ID. */
export async function issueLeafCertificate(params: LeafParams): Promise<string> {
  const issuerKeyId = params.issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const names = [
    { type: "url" as const, value: params.spiffeId },
    ...(params.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
  ];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: params.serialHex ?? randomSerialHex(),
    subject: `CN=${params.commonName}`,
    issuer: params.issuer.certificate.subjectName,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    publicKey: params.publicKey,
    signingKey: params.issuer.privateKey,
    signingAlgorithm: signingAlgorithm(params.issuer.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(params.publicKey),
      ...(issuerKeyId ? [new x509.AuthorityKeyIdentifierExtension(issuerKeyId)] : []),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  return pemOf(certificate);
}

/** PKCS#8 PEM ("PRIVATE KEY"). */
export async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({
    format: "pem",
    type: "pkcs8",
  }) as string;
}

/** SEC1 PEM ("EC PRIVATE KEY"): the form Consul hands out leaf keys in. */
export async function exportSec1Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "sec1" }) as string;
}

/** Reads a PEM private key (PKCS#8 or SEC1); only EC P-256, P-384 and P-521 keys can sign here. */
export async function importPrivateKey(privateKeyPem: string): Promise<CryptoKey> {
  let nodeKey: ReturnType<typeof createPrivateKey>;
  try {
    nodeKey = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new Error(`error parsing private key: ${(error as Error).message}`);
  }
  const curve = NODE_CURVES[nodeKey.asymmetricKeyDetails?.namedCurve ?? ""];
  if (nodeKey.asymmetricKeyType !== "ec" || !curve) {
    throw new Error("consul-dev's CA signs only with EC keys on P-256, P-384 or P-521");
  }
  const pkcs8 = nodeKey.export({ format: "der", type: "pkcs8" });
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: curve }, true, ["sign"]);
}

/** The public half of a private key, for signing a new root with an operator's key. */
export async function publicKeyOf(privateKey: CryptoKey): Promise<CryptoKey> {
  const spki = createPublicKey(
    createPrivateKey({
      key: Buffer.from(await crypto.subtle.exportKey("pkcs8", privateKey)),
      format: "der",
      type: "pkcs8",
    }),
  ).export({ format: "der", type: "spki" });
  return crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: curveOf(privateKey) }, true, ["verify"]);
}

/** Whether a certificate carries this public key. */
export async function isPublicKeyOf(publicKey: CryptoKey, certificate: x509.X509Certificate): Promise<boolean> {
  return Buffer.from(await crypto.subtle.exportKey("spki", publicKey)).equals(
    Buffer.from(certificate.publicKey.rawData),
  );
}

/**
 * Reads an operator's CA: a PEM private key and the PEM root certificate it belongs to. Throws an Error whose message
 * says what is wrong: an unusable key, not a certificate, not a CA, or a key that is not the certificate's.
 */
export async function importAuthority(privateKeyPem: string, rootCertPem: string): Promise<SigningAuthority> {
  const privateKey = await importPrivateKey(privateKeyPem);
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(rootCertPem);
  } catch (error) {
    throw new Error(`error parsing root cert: ${(error as Error).message}`);
  }
  if (!certificate.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new Error("root cert is not a CA certificate (basic constraints CA:TRUE missing)");
  }
  if (!(await isPublicKeyOf(await publicKeyOf(privateKey), certificate))) {
    throw new Error("private key does not match the root cert's public key");
  }
  return { certificate, privateKey };
}
