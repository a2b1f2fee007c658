/** A mesh service's identity, as Consul's Connect CA writes it into a leaf certificate's URI SAN. */
export interface ServiceIdentity {
  uri: string;
  trustDomain: string;
  namespace: string;
  datacenter: string;
  service: string;
}

const SERVICE_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/dc\/([^/]+)\/svc\/([^/]+)$/;

/** Reads `spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<service>`; anything else is not a service identity. */
export function parseServiceId(uri: string): ServiceIdentity | undefined {
  const match = SERVICE_ID.exec(uri);
  if (!match) return undefined;
  const [, trustDomain, namespace, datacenter, service] = match as unknown as [string, string, string, string, string];
  return { uri, trustDomain: trustDomain.toLowerCase(), namespace, datacenter, service };
}

/**
 * The URI SANs of a certificate, from Node's `subjectaltname` string (`DNS:a, URI:spiffe://...`). Node quotes an
 * entry that holds a comma or quote as a JSON string, so quoted entries are read as JSON.
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const uris: string[] = [];
  const entry = /(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of subjectAltName.matchAll(entry)) {
    const value = match[1] as string;
    uris.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return uris;
}

/** The one service identity a certificate carries, or why it has none. */
export function serviceIdentityOf(subjectAltName: string | undefined): ServiceIdentity | string {
  const uris = uriSans(subjectAltName).filter((uri) => uri.startsWith("spiffe://"));
  if (uris.length !== 1) return uris.length ? "more than one SPIFFE ID" : "no SPIFFE ID";
  return parseServiceId(uris[0] as string) ?? `"${uris[0]}" is not a service identity`;
}
