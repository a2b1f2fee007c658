/** A `host:port` address split in two; an IPv6 host loses its brackets (`[::1]:15000` -> `::1`, 15000). */
export function splitAddress(address: string): { host: string; port: number } {
  const separator = address.lastIndexOf(":");
  return { host: address.slice(0, separator).replace(/^\[|\]$/g, ""), port: Number(address.slice(separator + 1)) };
}

/** The other way round: brackets an IPv6 host again. */
export function joinAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function isLoopback(address: string): boolean {
  const { host } = splitAddress(address);
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
