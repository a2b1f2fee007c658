import type { HeaderList } from "../hpack/index.ts";

// RFC 9113 8.2.2: connection-specific fields have no place in HTTP/2; `te` may only say "trailers".
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const COLON = 0x3a;
/** RFC 9113 8.2.1: a field value must not contain NUL, LF or CR anywhere. */
const FORBIDDEN_IN_VALUE = /[\0\n\r]/;

/** RFC 9113 8.2.1: the first character a field name may not hold (0x00-0x20, A-Z, 0x7f-0xff, a colon), or -1. */
function badNameCharacter(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c === COLON || (c >= 0x41 && c <= 0x5a) || c >= 0x7f) return c;
  }
  return -1;
}

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
    // Never forwarded: a CR or LF would split the field in an HTTP/1.1 hop, a NUL would cut it short in C code.
    if (FORBIDDEN_IN_VALUE.test(list.value(i))) return `field ${printable(name)} has a NUL, LF or CR in its value`;
    if (name.charCodeAt(0) === COLON) {
      if (kind === "trailers") return `pseudo-header ${name} in trailers`;
      if (regularSeen) return `pseudo-header ${name} after a regular field`;
      if (kind === "request" ? !REQUEST_PSEUDO.has(name) : name !== ":status")
        return `unknown pseudo-header ${printable(name)}`;
      hasMethod ||= name === ":method";
      hasPath ||= name === ":path";
      hasStatus ||= name === ":status";
      continue;
    }
    regularSeen = true;
    const bad = badNameCharacter(name);
    if (bad >= 0x41 && bad <= 0x5a) return `field name ${name} is not lowercase`;
    if (bad !== -1) return `field name ${printable(name)} has the character 0x${bad.toString(16).padStart(2, "0")}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === "te" && list.value(i) !== "trailers") return `te: ${list.value(i)}`;
  }
  if (kind === "request" && !(hasMethod && hasPath)) return "request without :method and :path";
  if (kind === "response" && !hasStatus) return "response without :status";
  return undefined;
}

/** A field name as it may be written in a message or a log: its characters outside printable ASCII escaped. */
function printable(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}
