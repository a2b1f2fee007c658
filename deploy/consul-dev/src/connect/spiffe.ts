// SPIFFE IDs as Consul writes and reads them (agent/connect/uri.go).

export interface ServiceIdentity {
  trustDomain: string;
  namespace: string;
  datacenter: string;
  service: string;
}

export function serviceSpiffeId(identity: ServiceIdentity): string {
  return `spiffe://${identity.trustDomain}/ns/${identity.namespace}/dc/${identity.datacenter}/svc/${identity.service}`;
}

// A service: /ns/<ns>/dc/<dc>/svc/<name>, optionally after /ap/<partition> (Enterprise).
const SERVICE_PATH = /^(?:\/ap\/[^/]+)?\/ns\/([^/]+)\/dc\/([^/]+)\/svc\/([^/]+)$/;
// The other identities Consul issues: agents, mesh gateways, servers, and the CA itself (no path).
const OTHER_PATHS = [
  /^(?:\/ap\/[^/]+)?\/agent\/client\/dc\/[^/]+\/id\/[^/]+$/,
  /^(?:\/ap\/[^/]+)?\/gateway\/mesh\/dc\/[^/]+$/,
  /^\/agent\/server\/dc\/[^/]+$/,
  /^$/,
];

/**
 * Reads a client certificate's URI the way Consul's authorize endpoint does: a service identity, or "not-a-service"
 * for another valid Connect identity, or "invalid" for anything else.
 */
export function parseServiceSpiffeId(uri: string): ServiceIdentity | "not-a-service" | "invalid" {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "invalid";
  }
  if (url.protocol !== "spiffe:" || !url.host) return "invalid";
  const path = url.pathname;
  const service = SERVICE_PATH.exec(path);
  if (service) {
    const [namespace, datacenter, name] = service.slice(1).map((part) => decodeURIComponent(part)) as [
      string,
      string,
      string,
    ];
    return { trustDomain: url.host, namespace, datacenter, service: name };
  }
  return OTHER_PATHS.some((pattern) => pattern.test(path)) ? "not-a-service" : "invalid";
}
