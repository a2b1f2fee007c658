// Reading intentions from request bodies and query names, with Consul's validation texts (agent/structs/intention.go
// Validate, config_entry_intentions.go). A thrown IntentionInputError is a 400 with its message.
import { RE2JS } from "re2js";
import { field, RequestError, stringMap } from "../http/fields.ts";
import type { HeaderMatch, HttpMatch, IntentionAction, IntentionInput, Permission } from "./intentions.ts";
import { WILDCARD } from "./intentions.ts";

/** Invalid input: the server answers it 400 with its message, as any RequestError. */
export class IntentionInputError extends RequestError {
  constructor(message: string) {
    super(400, message);
  }
}

const META_MAX_PAIRS = 64;
const META_KEY_MAX = 128;
const META_VALUE_MAX = 512;
const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"]);

/**
 * A service name as the intention endpoints take it: a name or `*`, optionally as "default/<name>" (namespaces other
 * than "default" are Enterprise). `role` names the field in errors ("SourceName", "DestinationName").
 */
export function intentionName(input: string, role: "SourceName" | "DestinationName"): string {
  const slash = input.indexOf("/");
  let name = input;
  if (slash >= 0) {
    const namespace = input.slice(0, slash);
    name = input.slice(slash + 1);
    if (name.includes("/")) throw new IntentionInputError("input can contain at most one '/'");
    if (namespace !== "default" && namespace !== WILDCARD) {
      throw new IntentionInputError("Namespaces are a Consul Enterprise feature");
    }
  }
  if (!name) throw new IntentionInputError(`${role} must be set`);
  if (name !== WILDCARD && name.includes(WILDCARD)) {
    throw new IntentionInputError(`${role}: wildcard character '*' cannot be used with partial values`);
  }
  return name;
}

function action(value: unknown, where: string): IntentionAction {
  if (value === "allow" || value === "deny") return value;
  throw new IntentionInputError(`${where}Action must be set to 'allow' or 'deny'`);
}

function optionalString(object: unknown, name: string, where: string): string | undefined {
  const value = field(object, name);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string")
    throw new IntentionInputError(`Request decode failed: ${where}${name} must be a string`);
  return value;
}

function startsWithSlash(http: unknown, name: "PathExact" | "PathPrefix", where: string): string | undefined {
  const value = optionalString(http, name, where);
  if (value !== undefined && !value.startsWith("/")) {
    throw new IntentionInputError(`${where}${name} doesn't start with '/': ${JSON.stringify(value)}`);
  }
  return value;
}

/** Regexes are RE2, as the proxies that enforce them run them: a regex RE2 does not compile is refused when written. */
function re2(pattern: string, where: string): void {
  try {
    RE2JS.compile(pattern);
  } catch (error) {
    throw new IntentionInputError(`${where} is not a valid regular expression: ${(error as Error).message}`);
  }
}

function headerMatch(raw: unknown, where: string): HeaderMatch {
  const name = optionalString(raw, "Name", where);
  if (!name) throw new IntentionInputError(`${where} missing required Name field`);
  const header: HeaderMatch = { Name: name };
  let parts = 0;
  if (field(raw, "Present") === true) {
    header.Present = true;
    parts++;
  }
  for (const kind of ["Exact", "Prefix", "Suffix", "Regex"] as const) {
    const value = optionalString(raw, kind, `${where}.`);
    if (value !== undefined) {
      header[kind] = value;
      parts++;
    }
  }
  if (parts !== 1) {
    throw new IntentionInputError(`${where} should only contain one of Present, Exact, Prefix, Suffix, or Regex`);
  }
  if (header.Regex !== undefined) re2(header.Regex, `${where}.Regex`);
  if (field(raw, "Invert") === true) header.Invert = true;
  return header;
}

function httpMatch(raw: unknown, where: string): HttpMatch {
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new IntentionInputError(`${where} should not be empty`);
  }
  const http: HttpMatch = {};
  const exact = startsWithSlash(raw, "PathExact", `${where}.`);
  const prefix = startsWithSlash(raw, "PathPrefix", `${where}.`);
  const regex = optionalString(raw, "PathRegex", `${where}.`);
  const paths = [exact, prefix, regex].filter((each) => each !== undefined).length;
  if (paths > 1) {
    throw new IntentionInputError(`${where} should only contain at most one of PathExact, PathPrefix, or PathRegex`);
  }
  if (exact !== undefined) http.PathExact = exact;
  if (prefix !== undefined) http.PathPrefix = prefix;
  if (regex !== undefined) {
    re2(regex, `${where}.PathRegex`);
    http.PathRegex = regex;
  }
  const headers = field(raw, "Header");
  if (headers !== undefined && headers !== null) {
    if (!Array.isArray(headers)) throw new IntentionInputError(`Request decode failed: ${where}.Header must be a list`);
    http.Header = headers.map((each, k) => headerMatch(each, `${where}.Header[${k}]`));
  }
  const methods = field(raw, "Methods");
  if (methods !== undefined && methods !== null) {
    if (!Array.isArray(methods))
      throw new IntentionInputError(`Request decode failed: ${where}.Methods must be a list`);
    const seen = new Set<string>();
    for (const method of methods) {
      if (typeof method !== "string" || !HTTP_METHODS.has(method)) {
        throw new IntentionInputError(`${where}.Methods contains an invalid method ${JSON.stringify(method)}`);
      }
      if (seen.has(method)) throw new IntentionInputError(`${where}.Methods contains "${method}" more than once`);
      seen.add(method);
    }
    if (seen.size) http.Methods = [...seen];
  }
  if (paths === 0 && !http.Header?.length && !http.Methods?.length) {
    throw new IntentionInputError(`${where} should not be empty`);
  }
  return http;
}

/**
 * An intention's body: either an L4 `Action` or L7 `Permissions`, never both. `where` prefixes field names in errors
 * ("" for the legacy endpoints, "Sources[0]." for a config entry). L7 permissions need the destination's protocol to
 * be http, http2 or grpc in Consul (a service-defaults entry); consul-dev stores service-defaults entries but does not
 * require one here, on either write path, so L7 intentions work without one.
 */
export function intentionInput(body: unknown, where = ""): IntentionInput {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new IntentionInputError("Request decode failed: the body must be a JSON object");
  }
  const rawPermissions = field(body, "Permissions");
  const rawAction = field(body, "Action");
  const input: IntentionInput = {};
  if (Array.isArray(rawPermissions) && rawPermissions.length > 0) {
    if (rawAction !== undefined && rawAction !== null && rawAction !== "") {
      throw new IntentionInputError(`${where}Action must be omitted if Permissions are specified`);
    }
    input.permissions = rawPermissions.map(
      (raw, j): Permission => ({
        Action: action(field(raw, "Action"), `${where}Permissions[${j}].`),
        HTTP: httpMatch(field(raw, "HTTP"), `${where}Permissions[${j}].HTTP`),
      }),
    );
  } else if (rawPermissions !== undefined && rawPermissions !== null && !Array.isArray(rawPermissions)) {
    throw new IntentionInputError(`Request decode failed: ${where}Permissions must be a list`);
  } else {
    input.action = action(rawAction, where);
  }
  const description = optionalString(body, "Description", where);
  if (description !== undefined) {
    if (description.length > META_VALUE_MAX) {
      throw new IntentionInputError(`${where}Description exceeds maximum length ${META_VALUE_MAX}`);
    }
    input.description = description;
  }
  input.meta = metaField(body, where);
  return input;
}

/** A Meta map, within Consul's limits on pairs and lengths. */
export function metaField(body: unknown, where = ""): Record<string, string> {
  let meta: Record<string, string>;
  try {
    meta = stringMap(body, "Meta");
  } catch (error) {
    throw new IntentionInputError((error as Error).message);
  }
  if (Object.keys(meta).length > META_MAX_PAIRS) {
    throw new IntentionInputError(`${where}Meta exceeds maximum element count ${META_MAX_PAIRS}`);
  }
  for (const [metaKey, value] of Object.entries(meta)) {
    if (metaKey.length > META_KEY_MAX) {
      throw new IntentionInputError(`${where}Meta key "${metaKey}" exceeds maximum length ${META_KEY_MAX}`);
    }
    if (value.length > META_VALUE_MAX) {
      throw new IntentionInputError(`${where}Meta value for key "${metaKey}" exceeds maximum length ${META_VALUE_MAX}`);
    }
  }
  return meta;
}
