import { connect as netConnect } from "node:net";
import type { PeerCertificate } from "node:tls";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
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

/** A gRPC transport to the target; for the mesh, with a leaf of `identity` from the Consul agent's Connect CA. */
export async function grpcTransport(target: Target): Promise<Transport> {
  if (target.kind === "plaintext") {
    const [host, port] = splitAddress(target.address);
    return createGrpcTransport({
      baseUrl: `http://${target.authority ?? target.address}`,
      // The :authority may name a mesh service (a sidecar's outbound listener routes by it); connect to the address.
      nodeOptions: target.authority ? { createConnection: () => netConnect(port, host) } : {},
    });
  }
  const [roots, leaf] = await Promise.all([
    consulGet<{ TrustDomain: string; Roots: { RootCert: string }[] }>("/v1/agent/connect/ca/roots"),
    consulGet<{ CertPEM: string; PrivateKeyPEM: string }>(
      `/v1/agent/connect/ca/leaf/${encodeURIComponent(target.identity)}`,
    ),
  ]);
  const expected = `spiffe://${roots.TrustDomain}/ns/default/dc/`;
  return createGrpcTransport({
    baseUrl: `https://${target.address}`,
    nodeOptions: {
      ca: roots.Roots.map((root) => root.RootCert),
      cert: leaf.CertPEM,
      key: leaf.PrivateKeyPEM,
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
        const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(certificate.subjectaltname ?? "")?.[1] ?? "";
        const matches = uri.toLowerCase().startsWith(expected.toLowerCase()) && uri.endsWith(`/svc/${target.service}`);
        return matches
          ? undefined
          : new Error(`${target.address} presented ${uri || "no SPIFFE ID"}, not ${target.service}`);
      },
    },
  });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon).replace(/^\[|\]$/g, ""), Number(address.slice(colon + 1))];
}
