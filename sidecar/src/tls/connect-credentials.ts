import { type ConsulWatchOptions, watchBlocking } from "../discovery/blocking-watch.ts";
import type { ConsulClient } from "../discovery/consul-client.ts";

/** What a sidecar needs for mutual TLS: its own leaf and every root the mesh trusts now. */
export interface MeshCredentials {
  trustDomain: string;
  /** Every root in Consul's list, active or not: during a rotation both old and new are trusted. */
  roots: string[];
  /** The leaf, followed by any intermediate (a cross-signed root during rotation). */
  certPem: string;
  keyPem: string;
  serial: string;
  serviceUri: string;
  validBefore: Date;
}

interface CaRoots {
  TrustDomain: string;
  Roots: { ID: string; RootCert: string; IntermediateCerts?: string[] | null }[] | null;
}

interface LeafCert {
  SerialNumber: string;
  CertPEM: string;
  PrivateKeyPEM: string;
  ServiceURI: string;
  ValidBefore: string;
}

/**
 * The sidecar's identity from Consul's Connect CA: blocking watches on the agent's roots and on this service's
 * leaf. The agent renews the leaf before it expires and re-issues it after a root rotation; both wake the watches,
 * and listeners swap the new credentials in for new connections (open ones keep theirs).
 */
export class ConnectCredentials {
  private roots: CaRoots | undefined;
  private leaf: LeafCert | undefined;
  private credentials: MeshCredentials | undefined;
  private readonly listeners = new Set<(credentials: MeshCredentials) => void>();
  private readonly stops: (() => void)[] = [];

  constructor(
    private readonly client: ConsulClient,
    readonly service: string,
    private readonly options: ConsulWatchOptions,
  ) {}

  get current(): MeshCredentials | undefined {
    return this.credentials;
  }

  start(): void {
    const { waitMs, minIntervalMs, log } = this.options;
    const watch = { minIntervalMs, log };
    this.stops.push(
      watchBlocking(
        (index, signal) => this.client.blockingGet<CaRoots>("/v1/agent/connect/ca/roots", index, waitMs, signal),
        (roots) => {
          this.roots = roots;
          this.update();
        },
        { ...watch, what: "Connect CA roots" },
      ),
      watchBlocking(
        (index, signal) =>
          this.client.blockingGet<LeafCert>(
            `/v1/agent/connect/ca/leaf/${encodeURIComponent(this.service)}`,
            index,
            waitMs,
            signal,
          ),
        (leaf) => {
          this.leaf = leaf;
          this.update();
        },
        { ...watch, what: `leaf certificate of ${this.service}` },
      ),
    );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Calls listener with every new set of credentials (not the current one). */
  onChange(listener: (credentials: MeshCredentials) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once both the roots and the leaf are known. */
  ready(): Promise<MeshCredentials> {
    if (this.credentials) return Promise.resolve(this.credentials);
    return new Promise((resolve) => {
      const off = this.onChange((credentials) => {
        off();
        resolve(credentials);
      });
    });
  }

  private update() {
    const { roots, leaf } = this;
    if (!roots?.Roots?.length || !leaf) return;
    if (this.credentials?.serial === leaf.SerialNumber && sameRoots(this.credentials.roots, roots)) return;
    this.credentials = {
      trustDomain: roots.TrustDomain.toLowerCase(),
      roots: roots.Roots.map((root) => root.RootCert),
      certPem: leaf.CertPEM,
      keyPem: leaf.PrivateKeyPEM,
      serial: leaf.SerialNumber,
      serviceUri: leaf.ServiceURI,
      validBefore: new Date(leaf.ValidBefore),
    };
    this.options.log.info(
      { serial: leaf.SerialNumber, validBefore: leaf.ValidBefore, roots: roots.Roots.map((root) => root.ID) },
      "mesh certificate in use",
    );
    for (const listener of this.listeners) listener(this.credentials);
  }
}

function sameRoots(current: readonly string[], roots: CaRoots): boolean {
  const next = roots.Roots ?? [];
  return current.length === next.length && next.every((root, index) => root.RootCert === current[index]);
}
