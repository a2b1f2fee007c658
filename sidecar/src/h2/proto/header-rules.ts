import type { HeaderList } from "../hpack/index.ts";

// RFC 9113 8.2.2: connection-specific fields have no place in HTTP/2; `te` may only say "trailers".
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const COLON = 0x3a;

export type BlockKind = "request" | "response" | "trailers";

/** Why a received header block is malformed (RFC 9113 8.1.1, 8.2, 8.3), or undefined when it is well formed. */
export function malformedReason(list: HeaderList, kind: BlockKind): string | undefined {
  let regularSeen = false;
  let hasMethod = false;
  let hasPath = false;
  let hasStatus = false;
  for (let i = 0; i < list.length; i++) {
    const name = list.name(i);
    if (name.length === 0) return "empty field name";
    if (name.charCodeAt(0) === COLON) {
      if (kind === "trailers") return `pseudo-header ${name} in trailers`;
      if (regularSeen) return `pseudo-header ${name} after a regular field`;
      if (kind === "request" ? !REQUEST_PSEUDO.has(name) : name !== ":status") return `unknown pseudo-header ${name}`;
      hasMethod ||= name === ":method";
      hasPath ||= name === ":path";
      hasStatus ||= name === ":status";
      continue;
    }
    regularSeen = true;
    if (name !== name.toLowerCase()) return `field name ${name} is not lowercase`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === "te" && list.value(i) !== "trailers") return `te: ${list.value(i)}`;
  }
  if (kind === "request" && !(hasMethod && hasPath)) return "request without :method and :path";
  if (kind === "response" && !hasStatus) return "response without :status";
  return undefined;
}
