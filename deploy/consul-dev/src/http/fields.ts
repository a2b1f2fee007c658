// Consul decodes request JSON with Go's encoding/json: keys match case-insensitively, and snake_case aliases are
// accepted. Only the keys of known fields are matched this way; the contents of maps (Meta, Header) stay as sent.

const normalized = (key: string) => key.replaceAll("_", "").toLowerCase();

/** The value of a field of a decoded JSON object, matching the field name as Consul does. */
export function field(object: unknown, name: string): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) return undefined;
  const wanted = normalized(name);
  for (const [key, value] of Object.entries(object)) if (normalized(key) === wanted) return value;
  return undefined;
}

/** The keys of a decoded JSON object that name none of `names` (matched as `field` matches them). */
export function unknownFields(object: object, names: readonly string[]): string[] {
  const known = new Set(names.map(normalized));
  return Object.keys(object).filter((key) => !known.has(normalized(key)));
}

export function stringField(object: unknown, name: string): string | undefined {
  const value = field(object, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new RequestError(400, `Request decode failed: ${name} must be a string`);
  return value;
}

export function numberField(object: unknown, name: string): number | undefined {
  const value = field(object, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number") throw new RequestError(400, `Request decode failed: ${name} must be a number`);
  return value;
}

export function stringMap(object: unknown, name: string): Record<string, string> {
  const value = field(object, name);
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new RequestError(400, `Request decode failed: ${name} must be an object`);
  }
  return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, String(each)]));
}

/** A JSON request body (an empty body is `{}`); one that does not parse is a 400, worded as Consul's decoder. */
export function jsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new RequestError(400, `Request decode failed: ${(error as Error).message}`);
  }
}

/** An error answered as Consul does: the status code with a plain-text reason. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
