import type { PeerCertificate, TLSSocket } from "node:tls";
import { type ServiceIdentity, serviceIdentityOf } from "./spiffe.ts";

/** Why a connection is refused, as a metric label. */
export type RefusalKind =
  | "plaintext"
  | "silent"
  | "handshake_failed"
  | "not_h2"
  | "no_certificate"
  | "untrusted_certificate"
  | "not_a_service"
  | "foreign_trust_domain";

/** Who is on the other end of an accepted connection: a verified mesh service, or why it is not one. */
export type Peer = { identity: ServiceIdentity } | { rejected: string; kind: RefusalKind };

// OpenSSL's verification codes, as Node reports them, in words a caller can act on.
const NOT_OUR_CA = "not issued by a root this mesh trusts";
const VERIFY_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: NOT_OUR_CA,
  UNABLE_TO_GET_ISSUER_CERT: NOT_OUR_CA,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: NOT_OUR_CA,
  DEPTH_ZERO_SELF_SIGNED_CERT: NOT_OUR_CA,
  SELF_SIGNED_CERT_IN_CHAIN: NOT_OUR_CA,
  CERT_SIGNATURE_FAILURE: "certificate signature does not verify",
  INVALID_PURPOSE: "certificate is not for TLS clients",
};

export const NO_CLIENT_CERTIFICATE =
  "no client certificate: this port accepts only mutual TLS with a mesh identity from the Connect CA";

/**
 * Checks a client of the inbound listener once its handshake is done: the certificate must chain to a root the mesh
 * trusts now (OpenSSL checked that, with dates) and carry one service SPIFFE ID of this mesh's trust domain.
 */
export function checkClient(socket: TLSSocket, trustDomain: string): Peer {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0)
    return { rejected: NO_CLIENT_CERTIFICATE, kind: "no_certificate" };
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? "UNTRUSTED");
    const why = VERIFY_ERRORS[code] ?? code;
    return { rejected: `client certificate rejected: ${why} (${code})`, kind: "untrusted_certificate" };
  }
  return checkIdentity(certificate, trustDomain, "client");
}

/** Checks the server certificate an outbound connection got: it must name the service the call was meant for. */
export function checkServer(certificate: PeerCertificate, trustDomain: string, service: string): Error | undefined {
  const peer = checkIdentity(certificate, trustDomain, "server");
  if ("rejected" in peer) return new Error(peer.rejected);
  if (peer.identity.service !== service) {
    return new Error(`server certificate is for ${peer.identity.uri}, not the service ${service}`);
  }
  return undefined;
}

function checkIdentity(certificate: PeerCertificate, trustDomain: string, side: "client" | "server"): Peer {
  const identity = serviceIdentityOf(certificate.subjectaltname);
  if (typeof identity === "string") return { rejected: `${side} certificate has ${identity}`, kind: "not_a_service" };
  if (identity.trustDomain !== trustDomain) {
    const rejected = `${side} identity ${identity.uri} is of another trust domain (this mesh is ${trustDomain})`;
    return { rejected, kind: "foreign_trust_domain" };
  }
  return { identity };
}
