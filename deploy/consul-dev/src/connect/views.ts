// The JSON shapes of Consul's Connect API (api/connect_ca.go, api/connect_intention.go), field names as Consul spells
// them.
import type { CaRoot, ConnectCA, IssuedLeaf } from "./ca.ts";
import type { Intention } from "./intentions.ts";

/** A time as Go's encoding/json writes it: RFC 3339, without a fraction when there is none. */
export function goTime(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}

function rootView(root: CaRoot) {
  return {
    ID: root.id,
    Name: root.name,
    SerialNumber: root.serialNumber,
    SigningKeyID: root.signingKeyId,
    ExternalTrustDomain: "",
    NotBefore: goTime(root.notBefore),
    NotAfter: goTime(root.notAfter),
    RootCert: root.rootCert,
    IntermediateCerts: root.intermediateCerts,
    Active: root.active,
    PrivateKeyType: "ec",
    PrivateKeyBits: root.privateKeyBits,
    CreateIndex: root.createIndex,
    ModifyIndex: root.modifyIndex,
  };
}

export function rootsView(ca: ConnectCA) {
  return { ActiveRootID: ca.activeRoot.id, TrustDomain: ca.trustDomain, Roots: ca.roots.map(rootView) };
}

/** Every root, each followed by its intermediates: what `?pem=true` answers. */
export function rootsPem(ca: ConnectCA): string {
  return ca.roots.flatMap((root) => [root.rootCert, ...root.intermediateCerts]).join("");
}

export function leafView(leaf: IssuedLeaf) {
  return {
    SerialNumber: leaf.serialNumber,
    CertPEM: leaf.certPem,
    PrivateKeyPEM: leaf.privateKeyPem,
    Service: leaf.service,
    ServiceURI: leaf.serviceUri,
    ValidAfter: goTime(leaf.validAfter),
    ValidBefore: goTime(leaf.validBefore),
    CreateIndex: leaf.createIndex,
    ModifyIndex: leaf.modifyIndex,
  };
}

export function configView(ca: ConnectCA) {
  const config = ca.config;
  return {
    Provider: "consul",
    Config: config.shown,
    State: null,
    ForceWithoutCrossSigning: config.forceWithoutCrossSigning,
    CreateIndex: config.createIndex,
    ModifyIndex: config.modifyIndex,
  };
}

/**
 * An intention as Consul's API shows it: Action is "" for an L7 intention, Permissions is left out for an L4 one; one
 * written as a config entry has no ID and no times (Consul leaves them out).
 */
export function intentionView(intention: Intention) {
  return {
    ...(intention.id ? { ID: intention.id } : {}),
    Description: intention.description,
    SourceNS: "default",
    SourceName: intention.source,
    DestinationNS: "default",
    DestinationName: intention.destination,
    SourceType: "consul",
    Action: intention.action ?? "",
    ...(intention.permissions.length ? { Permissions: intention.permissions } : {}),
    Precedence: intention.precedence,
    Meta: intention.meta,
    ...(intention.createdAt ? { CreatedAt: goTime(intention.createdAt) } : {}),
    ...(intention.updatedAt ? { UpdatedAt: goTime(intention.updatedAt) } : {}),
    CreateIndex: intention.createIndex,
    ModifyIndex: intention.modifyIndex,
  };
}
