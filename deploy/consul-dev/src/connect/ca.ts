import { randomBytes, randomUUID } from "node:crypto";
import type { AgentState } from "../state/agent-state.ts";
import { type CaConfiguration, defaultCaConfiguration } from "./ca-config.ts";
import { serviceSpiffeId } from "./spiffe.ts";
import {
  colonHex,
  createRootCertificate,
  crossSign,
  describeCertificate,
  exportSec1Pem,
  generateKeyPair,
  importAuthority,
  importPrivateKey,
  isPublicKeyOf,
  issueLeafCertificate,
  type KeyPair,
  keyBits,
  pemOf,
  publicKeyOf,
  randomSerialHex,
  type SigningAuthority,
} from "./x509.ts";

/** A trusted root, with what Consul's CARoot shows of it. */
export interface CaRoot {
  id: string;
  name: string;
  serialNumber: number;
  signingKeyId: string;
  notBefore: Date;
  notAfter: Date;
  rootCert: string;
  /** Certificates sent after every leaf of this root: after a rotation, the new root cross-signed by the old key. */
  intermediateCerts: string[];
  active: boolean;
  privateKeyBits: number;
  authority: SigningAuthority;
  createIndex: number;
  modifyIndex: number;
}

/** A service's current leaf certificate, as the agent keeps (and renews) it. */
export interface IssuedLeaf {
  service: string;
  serialNumber: string;
  /** The leaf, then the active root's intermediates. */
  certPem: string;
  privateKeyPem: string;
  serviceUri: string;
  validAfter: Date;
  validBefore: Date;
  issuedAt: Date;
  renewAt: Date;
  rootId: string;
  createIndex: number;
  modifyIndex: number;
}

export interface ConnectCaOptions {
  datacenter: string;
  /** The cluster's UUID; the trust domain is `<clusterId>.consul`. Default: a new one at start. */
  clusterId?: string;
  /** Overrides `<clusterId>.consul` entirely. */
  trustDomain?: string;
  /** LeafCertTTL at start (Consul: 72h). */
  leafCertTtlMs?: number;
  /**
   * When the agent renews a leaf, as fractions of its lifetime: a random point between `from` and `to`. Consul's agent
   * picks one between 60% and 90%; tests may narrow the window to make renewal predictable.
   */
  renewalWindow?: { from: number; to: number };
  now?: () => number;
}

/** A leaf's NotBefore lies this far in the past, so peers with slightly slow clocks accept it (Consul does the same). */
const CLOCK_SKEW_MS = 60_000;
/** Service names the leaf endpoint accepts: what a SPIFFE path segment and a DNS label can carry without escaping. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const invalidDnsChars = /[^a-z0-9]/g;
const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

export class LeafNameError extends Error {}

/**
 * consul-dev's built-in Connect CA: the trusted roots (one active), the CA configuration, and a leaf certificate per
 * service that the agent issues on first request and renews itself before it expires. Every change advances the
 * agent's index, so blocking queries on roots and leaves wake up.
 */
export class ConnectCA {
  readonly trustDomain: string;
  readonly clusterId: string;
  private rootList: CaRoot[] = [];
  private configuration: CaConfiguration;
  private configIndexes = { create: 1, modify: 1 };
  private readonly leaves = new Map<string, IssuedLeaf>();
  private readonly pending = new Map<string, Promise<IssuedLeaf>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly renewalWindow: { from: number; to: number };
  private readonly now: () => number;
  /** Serializes CA-wide changes (rotation and leaf issuance) so a leaf is never signed by a root being replaced. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly state: AgentState,
    private readonly options: ConnectCaOptions,
  ) {
    this.clusterId = options.clusterId ?? randomUUID();
    this.trustDomain = options.trustDomain ?? `${this.clusterId}.consul`;
    this.configuration = defaultCaConfiguration(options.leafCertTtlMs);
    this.renewalWindow = options.renewalWindow ?? { from: 0.6, to: 0.9 };
    this.now = options.now ?? Date.now;
  }

  static async create(state: AgentState, options: ConnectCaOptions): Promise<ConnectCA> {
    const ca = new ConnectCA(state, options);
    const index = state.advance();
    ca.configIndexes = { create: index, modify: index };
    ca.rootList = [await ca.makeRoot(await ca.generateAuthority(256), [], index)];
    return ca;
  }

  get roots(): readonly CaRoot[] {
    return this.rootList;
  }

  get activeRoot(): CaRoot {
    return this.rootList.find((root) => root.active) as CaRoot;
  }

  get config(): CaConfiguration & { createIndex: number; modifyIndex: number } {
    return { ...this.configuration, createIndex: this.configIndexes.create, modifyIndex: this.configIndexes.modify };
  }

  rootsIndex(): number {
    return Math.max(...this.rootList.map((root) => root.modifyIndex));
  }

  leaf(service: string): IssuedLeaf | undefined {
    return this.leaves.get(service);
  }

  allLeaves(): IssuedLeaf[] {
    return [...this.leaves.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  /** The service's current leaf, issued now if it has none (what the agent's leaf endpoint does). */
  leafFor(service: string): Promise<IssuedLeaf> {
    if (!service) throw new LeafNameError("URI must be either service, agent, server, or kind");
    if (!SERVICE_NAME.test(service)) {
      // Consul only warns about such names; consul-dev refuses them because they cannot be a SPIFFE path segment.
      throw new LeafNameError(
        `Invalid service name "${service}": use letters, digits, "-", "_" and "." (starting with a letter or digit)`,
      );
    }
    const existing = this.leaves.get(service);
    if (existing) return Promise.resolve(existing);
    const inFlight = this.pending.get(service);
    if (inFlight) return inFlight;
    const issuing = this.serialize(() => this.issueLeaf(service)).finally(() => this.pending.delete(service));
    this.pending.set(service, issuing);
    return issuing;
  }

  /**
   * Applies a new configuration (already validated). A new LeafCertTTL applies to leaves issued from then on. The root
   * rotates when the operator gives a key (and root) other than the active one, or, without a key, when the key type
   * or size differs from the active root's; the same settings again do not rotate.
   */
  updateConfiguration(next: CaConfiguration): Promise<{ rotated: boolean }> {
    return this.serialize(async () => {
      const active = this.activeRoot;
      let authority: SigningAuthority | undefined;
      if (next.settings.privateKey && next.settings.rootCert) {
        const candidate = await importAuthority(next.settings.privateKey, next.settings.rootCert);
        if (describeCertificate(pemOf(candidate.certificate)).fingerprint !== active.id) authority = candidate;
      } else if (next.settings.privateKey) {
        const privateKey = await importPrivateKey(next.settings.privateKey);
        const keys = { privateKey, publicKey: await publicKeyOf(privateKey) };
        if (!(await isPublicKeyOf(keys.publicKey, active.authority.certificate)))
          authority = await this.selfSign(keys, next.settings.rootCertTtlMs);
      } else if (next.settings.privateKeyBits !== active.privateKeyBits) {
        authority = await this.generateAuthority(next.settings.privateKeyBits, next.settings.rootCertTtlMs);
      }
      // Everything asynchronous happens before the index advances, so a query woken by the change sees all of it.
      const root = authority
        ? await this.makeRoot(authority, [await crossSign(authority.certificate, active.authority)])
        : undefined;
      const index = this.state.advance();
      this.configuration = next;
      this.configIndexes.modify = index;
      if (!root) return { rotated: false };
      this.activate(root, index);
      // Consul's agents spread re-issuance over up to 30s; consul-dev has one agent and re-issues at once.
      for (const service of [...this.leaves.keys()]) await this.issueLeaf(service);
      return { rotated: true };
    });
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * Consul's rotation: the new root (its cross-signed certificate among its intermediates) becomes active; the old one
   * stays trusted but not active. The caller then re-issues every leaf under the new root.
   */
  private activate(root: CaRoot, index: number): void {
    for (const each of this.rootList) {
      if (each.active) each.modifyIndex = index;
      each.active = false;
    }
    const already = this.rootList.find((each) => each.id === root.id);
    if (already) {
      // Going back to a root that is still trusted: it becomes active again.
      Object.assign(already, { active: true, intermediateCerts: root.intermediateCerts, modifyIndex: index });
    } else {
      this.rootList.push({ ...root, createIndex: index, modifyIndex: index });
    }
  }

  private async generateAuthority(bits: 256 | 384 | 521, ttlMs?: number): Promise<SigningAuthority> {
    return this.selfSign(await generateKeyPair(bits), ttlMs ?? this.configuration.settings.rootCertTtlMs);
  }

  private selfSign(keys: KeyPair, ttlMs: number = this.configuration.settings.rootCertTtlMs) {
    const uid = randomBytes(4).toString("hex");
    const now = wholeSeconds(this.now());
    return createRootCertificate({
      keys,
      // Consul's CACN: pri-<uid>.<provider>.ca.<first 8 of the trust domain>.consul, unique per root.
      commonName: `pri-${uid}.consul.ca.${this.trustDomain.slice(0, 8)}.consul`,
      trustDomain: this.trustDomain,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + ttlMs),
      serialHex: randomSerialHex().slice(0, 12),
    });
  }

  /** A root's record; its indexes are set when it is stored. */
  private async makeRoot(authority: SigningAuthority, intermediateCerts: string[], index = 0): Promise<CaRoot> {
    const info = describeCertificate(pemOf(authority.certificate));
    const serial = Number.parseInt(info.serialHex, 16);
    return {
      id: info.fingerprint,
      name: "Consul CA Primary Cert",
      serialNumber: Number.isSafeInteger(serial) ? serial : Number.parseInt(info.serialHex.slice(-12), 16),
      signingKeyId: colonHex(info.subjectKeyId),
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      rootCert: info.pem,
      intermediateCerts,
      active: true,
      privateKeyBits: keyBits(authority.privateKey),
      authority,
      createIndex: index,
      modifyIndex: index,
    };
  }

  private async issueLeaf(service: string): Promise<IssuedLeaf> {
    const root = this.activeRoot;
    const keys = await generateKeyPair(256);
    const issuedAt = this.now();
    // Certificates carry whole seconds; the JSON shows the certificate's own times.
    const validAfter = wholeSeconds(issuedAt - CLOCK_SKEW_MS);
    const validBefore = wholeSeconds(issuedAt + this.configuration.settings.leafCertTtlMs);
    const serialHex = randomSerialHex();
    const serviceUri = serviceSpiffeId({
      trustDomain: this.trustDomain,
      namespace: "default",
      datacenter: this.options.datacenter,
      service,
    });
    // Consul's service DNS SAN: <service>.svc.<namespace>.<first 8 of the trust domain>.consul
    const dnsLabel = service.toLowerCase().replace(invalidDnsChars, "");
    const dnsName = `${dnsLabel}.svc.default.${this.trustDomain.slice(0, 8)}.consul`;
    const leafPem = await issueLeafCertificate({
      issuer: root.authority,
      publicKey: keys.publicKey,
      spiffeId: serviceUri,
      commonName: dnsName,
      dnsNames: dnsLabel ? [dnsName] : [],
      notBefore: new Date(validAfter),
      notAfter: new Date(validBefore),
      serialHex,
    });
    const privateKeyPem = await exportSec1Pem(keys.privateKey);
    // The index advances only once the leaf is complete, so a query woken by the change finds it.
    const index = this.state.advance();
    const leaf: IssuedLeaf = {
      service,
      serialNumber: colonHex(serialHex),
      certPem: [leafPem, ...root.intermediateCerts].join(""),
      privateKeyPem,
      serviceUri,
      validAfter: new Date(validAfter),
      validBefore: new Date(validBefore),
      issuedAt: new Date(issuedAt),
      renewAt: new Date(issuedAt + this.renewalDelay(validBefore - issuedAt)),
      rootId: root.id,
      createIndex: index,
      modifyIndex: index,
    };
    this.leaves.set(service, leaf);
    this.scheduleRenewal(leaf);
    return leaf;
  }

  /**
   * A random point of the renewal window, measured from issuance (not from NotBefore, which lies a minute back: with
   * the short TTLs of tests that minute would put renewal after expiry).
   */
  private renewalDelay(lifetimeMs: number): number {
    const { from, to } = this.renewalWindow;
    return lifetimeMs * (from + Math.random() * Math.max(0, to - from));
  }

  private scheduleRenewal(leaf: IssuedLeaf): void {
    clearTimeout(this.timers.get(leaf.service));
    if (this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(leaf.service);
        this.serialize(() => this.issueLeaf(leaf.service)).catch((error: unknown) =>
          console.error(`consul-dev: renewing the leaf of ${leaf.service} failed: ${(error as Error).message}`),
        );
      },
      Math.max(0, leaf.renewAt.getTime() - this.now()),
    );
    timer.unref();
    this.timers.set(leaf.service, timer);
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
