import { formatDuration, parseDuration } from "../duration.ts";
import { field, numberField, RequestError, stringField, stringMap } from "../http/fields.ts";
import type { AgentState } from "./agent-state.ts";
import type { Check, CheckDefinition, CheckStatus, ServiceInstance } from "./model.ts";

const STATUSES = new Set(["passing", "warning", "critical"]);
const META_KEY = /^[A-Za-z0-9_-]+$/;
const MIN_INTERVAL_MS = 1000;
const MIN_DEREGISTER_MS = 60_000;

export interface RegistrationLimits {
  /** DeregisterCriticalServiceAfter is raised to at least this (Consul: 1m). */
  minDeregisterMs: number;
}

function duration(object: unknown, name: string): number | undefined {
  try {
    return parseDuration(field(object, name));
  } catch (error) {
    throw new RequestError(400, `Request decode failed: ${(error as Error).message}`);
  }
}

function validateMeta(meta: Record<string, string>) {
  const entries = Object.entries(meta);
  if (entries.length > 64)
    throw new RequestError(400, "Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs");
  for (const [key, value] of entries) {
    if (!META_KEY.test(key))
      throw new RequestError(400, `Invalid Service Meta: Key contains invalid characters: ${key}`);
    if (key.length > 128)
      throw new RequestError(400, `Invalid Service Meta: Key is too long (limit: 128 characters): ${key}`);
    if (key.startsWith("consul-"))
      throw new RequestError(400, `Invalid Service Meta: Key prefix 'consul-' is reserved for internal use`);
    if (value.length > 512)
      throw new RequestError(400, `Invalid Service Meta: Value is too long (limit: 512 characters): ${key}`);
  }
}

function headerMap(object: unknown): Record<string, string[]> {
  const value = field(object, "Header");
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new RequestError(400, "Request decode failed: Header must be an object");
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(value)) {
    if (!Array.isArray(values))
      throw new RequestError(
        400,
        "Request decode failed: json: cannot unmarshal string into Go struct field CheckType.Header of type []string",
      );
    headers[name] = values.map(String);
  }
  return headers;
}

/** Reads and validates one check object of a registration (Consul's CheckType.Validate rules). */
function checkDefinition(raw: unknown): CheckDefinition {
  const ttlMs = duration(raw, "TTL");
  let intervalMs = duration(raw, "Interval");
  const timeoutMs = duration(raw, "Timeout") ?? 10_000;
  const http = stringField(raw, "HTTP");
  const tcp = stringField(raw, "TCP");
  const grpc = stringField(raw, "GRPC");
  const probed = http ?? tcp ?? grpc;
  if (intervalMs !== undefined && intervalMs > 0 && ttlMs !== undefined && ttlMs > 0) {
    throw new RequestError(400, "Invalid check: Interval and TTL cannot both be specified");
  }
  if (probed !== undefined) {
    if (intervalMs === undefined || intervalMs <= 0) {
      throw new RequestError(
        400,
        "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
      );
    }
    intervalMs = Math.max(intervalMs, MIN_INTERVAL_MS);
    if (grpc !== undefined) return { type: "grpc", intervalMs, timeoutMs, grpc };
    if (http !== undefined) {
      const probe = {
        url: http,
        method: stringField(raw, "Method") ?? "GET",
        headers: headerMap(raw),
        body: stringField(raw, "Body") ?? "",
      };
      return { type: "http", intervalMs, timeoutMs, http: probe };
    }
    return { type: "tcp", intervalMs, timeoutMs, tcp: tcp as string };
  }
  if (ttlMs === undefined || ttlMs <= 0) throw new RequestError(400, "Invalid check: TTL must be > 0 for TTL checks");
  return { type: "ttl", ttlMs };
}

function initialStatus(raw: unknown): CheckStatus {
  const status = stringField(raw, "Status");
  if (status === undefined || status === "") return "critical";
  if (!STATUSES.has(status)) throw new RequestError(400, "Status for checks must 'passing', 'warning', 'critical'");
  return status as CheckStatus;
}

/** The registration's check objects in Consul's order: Check first, then Checks. */
function checkObjects(body: unknown): unknown[] {
  const single = field(body, "Check");
  const many = field(body, "Checks");
  return [...(single ? [single] : []), ...(Array.isArray(many) ? many : [])];
}

export interface RegisterResult {
  checks: Check[];
  removedChecks: Check[];
}

/** Applies `PUT /v1/agent/service/register` to the state, with Consul's naming, defaults and carry-over rules. */
export function registerService(
  state: AgentState,
  body: unknown,
  replaceExistingChecks: boolean,
  limits: RegistrationLimits,
): RegisterResult {
  const name = stringField(body, "Name");
  if (!name) throw new RequestError(400, "Missing service name");
  const id = stringField(body, "ID") || name;
  const address = stringField(body, "Address") ?? "";
  if (address === "0.0.0.0" || address === "::" || address === "[::]")
    throw new RequestError(400, "Invalid service address");
  const meta = stringMap(body, "Meta");
  validateMeta(meta);
  const weights = field(body, "Weights");
  const passingWeight = numberField(weights, "Passing") ?? 1;
  if (passingWeight < 1) throw new RequestError(400, "Invalid Weights: Passing must be greater than 0");
  const tagsValue = field(body, "Tags");
  const tags = Array.isArray(tagsValue) ? tagsValue.map(String) : [];

  const objects = checkObjects(body);
  const definitions = objects.map((raw) => ({ raw, definition: checkDefinition(raw), status: initialStatus(raw) }));
  const existing = state.services.get(id);
  const index = state.advance();
  const instance: ServiceInstance = {
    id,
    service: name,
    tags,
    address,
    port: numberField(body, "Port") ?? 0,
    meta,
    weights: { Passing: passingWeight, Warning: numberField(weights, "Warning") ?? 1 },
    enableTagOverride: field(body, "EnableTagOverride") === true,
    createIndex: existing?.createIndex ?? index,
    modifyIndex: index,
  };
  state.putService(instance);

  const checks = definitions.map(({ raw, definition, status }, position) => {
    const checkId =
      stringField(raw, "CheckID") || (objects.length === 1 ? `service:${id}` : `service:${id}:${position + 1}`);
    const previous = state.checks.get(checkId);
    const deregister = duration(raw, "DeregisterCriticalServiceAfter");
    const check: Check = {
      checkId,
      name: stringField(raw, "Name") || `Service '${name}' check`,
      // Re-registration keeps a check's status and output, even over an explicit Status.
      status: previous?.status ?? status,
      notes: stringField(raw, "Notes") ?? "",
      output: previous?.output ?? "",
      serviceId: id,
      serviceName: name,
      serviceTags: tags,
      definition,
      deregisterAfterMs: deregister === undefined ? undefined : Math.max(deregister, limits.minDeregisterMs),
      criticalSince: previous ? previous.criticalSince : status === "critical" ? Date.now() : undefined,
      createIndex: previous?.createIndex ?? index,
      modifyIndex: index,
    };
    state.checks.set(checkId, check);
    return check;
  });

  const listed = new Set(checks.map((check) => check.checkId));
  const removedChecks = replaceExistingChecks ? state.checksOf(id).filter((check) => !listed.has(check.checkId)) : [];
  for (const check of removedChecks) state.checks.delete(check.checkId);
  for (const check of state.checksOf(id)) check.serviceTags = tags;
  return { checks, removedChecks };
}

export const DEFAULT_LIMITS: RegistrationLimits = { minDeregisterMs: MIN_DEREGISTER_MS };

export function intervalOf(check: Check): string {
  return "intervalMs" in check.definition ? formatDuration(check.definition.intervalMs) : "";
}

export function timeoutOf(check: Check): string {
  return "timeoutMs" in check.definition ? formatDuration(check.definition.timeoutMs) : "";
}
