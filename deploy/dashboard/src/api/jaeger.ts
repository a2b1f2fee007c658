// Jaeger query API JSON (the subset in the shared contract): traces as Jaeger's UI and CLI read them, and the search
// parameters of /api/traces. Pure: the HTTP layer calls these.
import type { SpanRecord, Tag } from "../model.ts";
import type { StoredTrace, TraceQuery } from "../store/trace-store.ts";

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: "CHILD_OF"; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: Tag[];
  logs: { timestamp: number; fields: Tag[] }[];
  processID: string;
  warnings: string[] | null;
  flags: number;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: Tag[] }>;
  warnings: string[] | null;
}

/** The tags Jaeger derives from OTLP fields: span kind, status, instrumentation scope. */
function derivedTags(span: SpanRecord): Tag[] {
  const tags: Tag[] = [];
  if (span.kind !== "unspecified") tags.push({ key: "span.kind", type: "string", value: span.kind });
  if (span.statusCode === 2) {
    tags.push({ key: "error", type: "bool", value: true });
    tags.push({ key: "otel.status_code", type: "string", value: "ERROR" });
  } else if (span.statusCode === 1) {
    tags.push({ key: "otel.status_code", type: "string", value: "OK" });
  }
  if (span.statusMessage) tags.push({ key: "otel.status_description", type: "string", value: span.statusMessage });
  if (span.scope.name) tags.push({ key: "otel.scope.name", type: "string", value: span.scope.name });
  if (span.scope.version) tags.push({ key: "otel.scope.version", type: "string", value: span.scope.version });
  return tags;
}

/** One stored trace as Jaeger JSON: spans in start order, one process entry per distinct resource. */
export function toJaegerTrace(trace: StoredTrace): JaegerTrace {
  const processes: JaegerTrace["processes"] = {};
  const processIds = new Map<string, string>();
  const spans = [...trace.spans]
    .sort((a, b) => a.startUs - b.startUs)
    .map((span): JaegerSpan => {
      const processKey = JSON.stringify([span.process.serviceName, span.process.tags]);
      let processID = processIds.get(processKey);
      if (!processID) {
        processID = `p${processIds.size + 1}`;
        processIds.set(processKey, processID);
        processes[processID] = { serviceName: span.process.serviceName, tags: span.process.tags };
      }
      return {
        traceID: span.traceId,
        spanID: span.spanId,
        operationName: span.name,
        references: span.parentSpanId
          ? [{ refType: "CHILD_OF", traceID: span.traceId, spanID: span.parentSpanId }]
          : [],
        startTime: span.startUs,
        duration: span.durationUs,
        tags: [...span.attributes, ...derivedTags(span)],
        logs: span.events.map((event) => ({
          timestamp: event.timeUs,
          fields: [{ key: "event", type: "string", value: event.name }, ...event.attributes],
        })),
        processID,
        warnings: null,
        flags: 1,
      };
    });
  const warnings = trace.droppedSpans
    ? [
        `${trace.droppedSpans} spans of this trace were dropped: the store keeps at most ${trace.spans.length} per trace`,
      ]
    : null;
  return { traceID: trace.traceId, spans, processes, warnings };
}

const UNITS: Record<string, number> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A Go-style duration ("1h", "30m", "2h30m", "500ms") in milliseconds, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) return undefined;
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * (UNITS[unit as string] as number), 0);
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1500;

/** The /api/traces search parameters as a store query, or the problem with them. */
export function parseTraceQuery(params: URLSearchParams, nowUs: number): TraceQuery | { error: string } {
  const service = params.get("service") || undefined;
  let tags: Record<string, string> | undefined;
  const tagsText = params.get("tags");
  if (tagsText) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(tagsText);
    } catch {
      return { error: `tags is not JSON: ${tagsText}` };
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return { error: "tags must be a JSON object of tag names to values" };
    }
    tags = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (value === null || typeof value === "object") return { error: `tag ${key} must have a plain value` };
      tags[key] = String(value);
    }
  }
  const limitText = params.get("limit");
  const limit = limitText ? Number(limitText) : DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 0) return { error: `limit must be a non-negative integer: ${limitText}` };
  let sinceUs: number | undefined;
  const lookback = params.get("lookback");
  if (lookback && lookback !== "custom") {
    const ms = parseDuration(lookback);
    if (ms === undefined) return { error: `lookback is not a duration like 1h or 30m: ${lookback}` };
    sinceUs = nowUs - ms * 1000;
  }
  // Jaeger's explicit window (µs since the epoch) wins over lookback.
  const start = params.get("start");
  const end = params.get("end");
  if (start && !/^\d+$/.test(start)) return { error: `start must be µs since the epoch: ${start}` };
  if (end && !/^\d+$/.test(end)) return { error: `end must be µs since the epoch: ${end}` };
  if (start) sinceUs = Number(start);
  return {
    service,
    tags,
    limit: Math.min(limit || DEFAULT_LIMIT, MAX_LIMIT),
    sinceUs,
    untilUs: end ? Number(end) : undefined,
  };
}

/** Jaeger's envelope for lists. */
export function listResponse<T>(data: T[], total = data.length) {
  return { data, total, limit: 0, offset: 0, errors: null };
}

/** Jaeger's envelope for a bad request. */
export function badRequest(msg: string) {
  return { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 400, msg }] };
}

/** The contract's answer for an unknown trace id. */
export const TRACE_NOT_FOUND = { data: [], errors: [{ code: 404, msg: "trace not found" }] };
