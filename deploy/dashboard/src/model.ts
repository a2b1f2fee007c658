// The dashboard's own span model: what the receiver makes of OTLP spans, what the store keeps, and what the Jaeger
// query API renders. Times are microseconds since the epoch, as Jaeger's JSON has them.

export type TagType = "string" | "int64" | "float64" | "bool";

/** A tag (attribute) as Jaeger's JSON writes it. */
export interface Tag {
  key: string;
  type: TagType;
  value: string | number | boolean;
}

export type SpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer";

export interface SpanEvent {
  timeUs: number;
  name: string;
  attributes: Tag[];
}

/** The process (OTLP resource) a span came from: its service name and the other resource attributes. */
export interface Process {
  serviceName: string;
  tags: Tag[];
}

export interface SpanRecord {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  startUs: number;
  durationUs: number;
  attributes: Tag[];
  events: SpanEvent[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: 0 | 1 | 2;
  statusMessage: string;
  scope: { name: string; version: string };
  process: Process;
}

/** A tag's value as text, the form tag searches compare. */
export function tagText(tag: Tag): string {
  return String(tag.value);
}
