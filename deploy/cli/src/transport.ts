import { connect as netConnect } from "node:net";
import type { PeerCertificate } from "node:tls";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { serviceIdentityOf, splitAddress } from "@mesh/sidecar";
import { consulGet } from "./consul.ts";

/** Where a call goes: plaintext to a listener on this host, or mutual TLS to a service's inbound sidecar. */
export type Target =
  | { kind: "plaintext"; address: string; authority?: string }
  | { kind: "mesh"; address: string; service: string; identity: string };

export function describeTarget(target: Target): string {
  return target.kind === "mesh"
    ? `${target.service} at ${target.address} (mutual TLS as ${target.identity})`
    : target.address;
}

/**
 * A gRPC transport to the target; for the mesh, with a leaf of `identity` from the Consul agent's Connect CA, read
 * with `get` (the CLI's, or the dashboard's with its own agent and token).
 */
export async function grpcTransport(
  target: Target,
  get: <T>(path: string) => Promise<T> = consulGet,
): Promise<Transport> {
  if (target.kind === "plaintext") {
    const { host, port } = splitAddress(target.address);
    return createGrpcTransport({
      baseUrl: `http://${target.authority ?? target.address}`,
      // The :authority may name a mesh service (a sidecar's outbound listener routes by it); connect to the address.
      nodeOptions: target.authority ? { createConnection: () => netConnect(port, host) } : {},
    });
  }
  const [roots, leaf] = await Promise.all([
    get<{ TrustDomain: string; Roots: { RootCert: string }[] }>("/v1/agent/connect/ca/roots"),
    get<{ CertPEM: string; PrivateKeyPEM: string }>(`/v1/agent/connect/ca/leaf/${encodeURIComponent(target.identity)}`),
  ]);
  const trustDomain = roots.TrustDomain.toLowerCase();
  return createGrpcTransport({
    baseUrl: `https://${target.address}`,
    nodeOptions: {
      ca: roots.Roots.map((root) => root.RootCert),
      cert: leaf.CertPEM,
      key: leaf.PrivateKeyPEM,
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
        const identity = serviceIdentityOf(certificate.subjectaltname);
        if (typeof identity === "string")
          return new Error(`${target.address} presented a certificate with ${identity}`);
        const matches = identity.trustDomain === trustDomain && identity.service === target.service;
        return matches ? undefined : new Error(`${target.address} presented ${identity.uri}, not ${target.service}`);
      },
    },
  });
}
