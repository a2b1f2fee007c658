// Reading `PUT /v1/config` bodies, with Consul's decoding and validation texts (agent/structs/config_entry.go
// DecodeConfigEntry, config_entry_intentions.go Validate). consul-dev supports two kinds; a thrown
// IntentionInputError is a 400 with its message.
import { field, unknownFields } from "../http/fields.ts";
import { IntentionInputError, intentionInput, metaField } from "./intention-input.ts";
import { type SourceInput, WILDCARD } from "./intentions.ts";

export const SUPPORTED_KINDS = ["service-intentions", "service-defaults"] as const;
export type SupportedKind = (typeof SUPPORTED_KINDS)[number];

/** Every kind Consul knows: consul-dev answers reads of the others as empty, and refuses to write them. */
const CONSUL_KINDS = new Set<string>([
  ...SUPPORTED_KINDS,
  "proxy-defaults",
  "service-router",
  "service-splitter",
  "service-resolver",
  "ingress-gateway",
  "terminating-gateway",
  "mesh",
  "exported-services",
  "sameness-group",
  "api-gateway",
  "bound-api-gateway",
  "inline-certificate",
  "file-system-certificate",
  "http-route",
  "tcp-route",
  "jwt-provider",
  "rate-limit-ip-config",
]);

export type ConfigEntryInput =
  | { kind: "service-intentions"; name: string; sources: SourceInput[]; meta: Record<string, string> }
  | { kind: "service-defaults"; name: string; protocol: string; meta: Record<string, string> };

/** A kind from a path: a supported one, or "other" for a kind Consul knows; an unknown kind throws, as in Consul. */
export function knownKind(kind: string): SupportedKind | "other" {
  if (!CONSUL_KINDS.has(kind)) throw new IntentionInputError(`invalid config entry kind: ${kind}`);
  return (SUPPORTED_KINDS as readonly string[]).includes(kind) ? (kind as SupportedKind) : "other";
}

const decodeError = (message: string) => new IntentionInputError(`Request decoding failed: ${message}`);

/** Entry fields Consul reads back from what it served (the indexes are ignored on write, as Consul ignores them). */
const INDEXES = ["Kind", "CreateIndex", "ModifyIndex"];
const INTENTIONS_FIELDS = [...INDEXES, "Name", "Sources", "Meta"];
const SOURCE_FIELDS = [
  "Name",
  "Action",
  "Permissions",
  "Description",
  "Type",
  "Precedence",
  "LegacyID",
  "LegacyMeta",
  "LegacyCreateTime",
  "LegacyUpdateTime",
];
const DEFAULTS_FIELDS = [...INDEXES, "Name", "Protocol", "Meta"];

/** Refuses fields consul-dev does not implement rather than ignoring them (JWT, Peer, Mode...). */
function onlyFields(object: object, names: readonly string[], where: string) {
  const unknown = unknownFields(object, names);
  if (unknown.length > 0) {
    throw decodeError(
      `${where} has fields consul-dev does not support: ${unknown.join(", ")} (it takes ${names.join(", ")})`,
    );
  }
}

function name(object: unknown, where: string): string {
  const value = field(object, "Name");
  if (value === undefined || value === null || value === "") throw new IntentionInputError(`${where}Name is required`);
  if (typeof value !== "string") throw decodeError(`${where}Name must be a string`);
  if (value !== WILDCARD && value.includes(WILDCARD)) {
    throw new IntentionInputError(`${where}Name: wildcard character '*' cannot be used with partial values`);
  }
  return value;
}

function source(raw: unknown, i: number, destination: string, seen: Set<string>): SourceInput {
  const where = `Sources[${i}]`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw decodeError(`${where} must be an object`);
  onlyFields(raw, SOURCE_FIELDS, where);
  const sourceName = name(raw, `${where}.`);
  const legacyMeta = field(raw, "LegacyMeta");
  if (legacyMeta && typeof legacyMeta === "object" && Object.keys(legacyMeta).length > 0) {
    throw new IntentionInputError(`${where}.LegacyMeta must be omitted`);
  }
  // LegacyID and the legacy times are dropped on a config-entry write, as Consul's Normalize drops them.
  const { action, permissions, description } = intentionInput(raw, `${where}.`);
  if (destination === WILDCARD && permissions?.length) {
    throw new IntentionInputError(
      `${where}.Permissions cannot be specified on intentions with wildcarded destinations`,
    );
  }
  const type = field(raw, "Type");
  if (type !== undefined && type !== null && type !== "" && type !== "consul") {
    throw new IntentionInputError(`${where}.Type must be set to 'consul'`);
  }
  if (seen.has(sourceName))
    throw new IntentionInputError(`${where} defines ${JSON.stringify(sourceName)} more than once`);
  seen.add(sourceName);
  return { name: sourceName, action, permissions, description };
}

function serviceIntentions(body: object): ConfigEntryInput {
  onlyFields(body, INTENTIONS_FIELDS, "service-intentions entry");
  const destination = name(body, "");
  const meta = metaField(body);
  const sources = field(body, "Sources");
  if (sources !== undefined && sources !== null && !Array.isArray(sources)) throw decodeError("Sources must be a list");
  if (!sources?.length) throw new IntentionInputError("At least one source is required");
  const seen = new Set<string>();
  return {
    kind: "service-intentions",
    name: destination,
    sources: sources.map((raw: unknown, i: number) => source(raw, i, destination, seen)),
    meta,
  };
}

function serviceDefaults(body: object): ConfigEntryInput {
  onlyFields(body, DEFAULTS_FIELDS, "service-defaults entry");
  const service = name(body, "");
  if (service === WILDCARD) {
    throw new IntentionInputError("service-defaults name must be the name of a service, and not a wildcard");
  }
  const protocol = field(body, "Protocol") ?? "";
  if (typeof protocol !== "string") throw decodeError("Protocol must be a string");
  return { kind: "service-defaults", name: service, protocol: protocol.toLowerCase(), meta: metaField(body) };
}

/** A `PUT /v1/config` body: its kind first (as Consul decodes it), then the entry of that kind. */
export function configEntryInput(body: unknown): ConfigEntryInput {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw decodeError("the body must be a JSON object");
  }
  const kind = field(body, "Kind");
  if (kind === undefined) throw decodeError("Payload does not contain a kind/Kind key at the top level");
  if (typeof kind !== "string") throw decodeError("Kind value in payload is not a string");
  let known: SupportedKind | "other";
  try {
    known = knownKind(kind);
  } catch (error) {
    throw decodeError((error as Error).message);
  }
  if (known === "other") {
    throw new IntentionInputError(
      `consul-dev does not support config entries of kind ${JSON.stringify(kind)}; it supports ${SUPPORTED_KINDS.join(" and ")}`,
    );
  }
  return known === "service-intentions" ? serviceIntentions(body) : serviceDefaults(body);
}
