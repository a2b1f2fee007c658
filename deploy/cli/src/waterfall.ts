// `mesh trace` output: a trace in Jaeger's JSON (what the dashboard's and Jaeger's /api/traces return) as an
// indented waterfall, one line per span under its parent, a bar on the trace's time axis, and the span's events
// (retries, breaker, deadline) beneath it. Pure: trace-api.ts fetches.
import { statusName } from "@mesh/sidecar";

export interface KeyValue {
  key: string;
  type?: string;
  value: unknown;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[] | null;
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags?: KeyValue[] | null;
  logs?: { timestamp: number; fields: KeyValue[] }[] | null;
  processID?: string;
  /** Some Jaeger answers embed the process instead of naming it in `processes`. */
  process?: { serviceName: string };
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes?: Record<string, { serviceName: string }>;
}

export interface SpanNode {
  span: JaegerSpan;
  service: string;
  children: SpanNode[];
  /** Its parent span is named but not in the trace (not exported yet, sampled out, or lost): shown as a root. */
  missingParent?: string;
}

/** The parent a span names: its CHILD_OF reference in this trace, else its first reference. */
function parentOf(span: JaegerSpan): string | undefined {
  const references = span.references ?? [];
  const childOf = references.find((each) => each.refType === "CHILD_OF" && each.traceID === span.traceID);
  return (childOf ?? references[0])?.spanID;
}

const byStart = (a: SpanNode, b: SpanNode) =>
  a.span.startTime - b.span.startTime || a.span.spanID.localeCompare(b.span.spanID);

/**
 * The trace's spans as a forest: each span under its parent, children in start order. Spans whose parent is missing
 * become roots marked with the missing id, so nothing a server returned is dropped; so does one span of each
 * reference cycle (a corrupt trace), which no root would reach otherwise.
 */
export function spanTree(trace: JaegerTrace): SpanNode[] {
  const nodes = new Map<string, SpanNode>();
  for (const span of trace.spans) {
    const service = span.process?.serviceName ?? trace.processes?.[span.processID ?? ""]?.serviceName ?? "?";
    nodes.set(span.spanID, { span, service, children: [] });
  }
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parentId = parentOf(node.span);
    const parent = parentId === undefined ? undefined : nodes.get(parentId);
    if (parent && parent !== node) parent.children.push(node);
    else {
      if (parentId !== undefined && parentId !== node.span.spanID) node.missingParent = parentId;
      roots.push(node);
    }
  }
  const reached = new Set<SpanNode>();
  const visit = (node: SpanNode) => {
    reached.add(node);
    node.children.sort(byStart);
    for (const child of node.children) visit(child);
  };
  for (const root of roots) visit(root);
  for (const node of nodes.values()) {
    if (reached.has(node)) continue;
    // In a cycle: cut it here (shown as a root), keeping this node's subtree once.
    for (const other of nodes.values()) other.children = other.children.filter((child) => child !== node);
    roots.push(node);
    visit(node);
  }
  return roots.sort(byStart);
}

const tagOf = (span: JaegerSpan, key: string) => span.tags?.find((tag) => tag.key === key)?.value;

/** A duration in microseconds, in the unit that reads best. */
export function duration(micros: number): string {
  if (micros < 1000) return `${Math.round(micros)}µs`;
  if (micros < 1_000_000) return `${(micros / 1000).toFixed(2)}ms`;
  return `${(micros / 1_000_000).toFixed(2)}s`;
}

/** `shop.order.v1.OrderService/PlaceOrder` -> `OrderService/PlaceOrder` (also after `attempt `): the package only widens. */
export function shortName(name: string): string {
  return name.replace(/(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z][A-Za-z0-9_]*\/)/g, "");
}

/** What a span ended with: its gRPC status (or HTTP status), error description, retry reason, event outcome. */
export function outcome(span: JaegerSpan): string {
  const parts: string[] = [];
  const grpc = tagOf(span, "rpc.grpc.status_code");
  const http = tagOf(span, "http.response.status_code");
  const failed = tagOf(span, "error") === true || tagOf(span, "otel.status_code") === "ERROR";
  const description = tagOf(span, "otel.status_description");
  if (grpc !== undefined) parts.push(statusName(Number(grpc)));
  else if (http !== undefined) parts.push(`HTTP ${http}`);
  if (failed) {
    const text = description === undefined || description === "" ? "" : String(description);
    if (grpc === undefined) parts.push(text ? `error: ${text}` : "error");
    else if (text) parts[parts.length - 1] += `: ${text}`;
  }
  const retryReason = tagOf(span, "mesh.retry_reason");
  if (retryReason !== undefined) parts.push(`(retry after ${retryReason})`);
  const eventOutcome = tagOf(span, "shop.event.outcome");
  if (eventOutcome !== undefined) parts.push(String(eventOutcome));
  return parts.join(" ");
}

/** A bar of `width` cells for [start, start + length) on the axis [origin, origin + total). */
export function bar(start: number, length: number, origin: number, total: number, width: number): string {
  const span = Math.max(total, 1);
  const from = Math.min(width - 1, Math.max(0, Math.floor(((start - origin) / span) * width)));
  const to = Math.min(width, Math.max(from + 1, Math.round(((start + length - origin) / span) * width)));
  return `|${" ".repeat(from)}${"█".repeat(to - from)}${" ".repeat(width - to)}|`;
}

interface Line {
  label: string;
  node?: SpanNode;
  /** A note or event line beneath a span: printed as is. */
  text?: string;
}

function fieldText(field: KeyValue): string {
  return `${field.key}=${typeof field.value === "string" ? field.value : JSON.stringify(field.value)}`;
}

/** One trace: a header line, then one line per span (depth-first), with notes and events beneath. */
export function formatWaterfall(trace: JaegerTrace, options: { barWidth?: number } = {}): string {
  const width = options.barWidth ?? 40;
  if (trace.spans.length === 0) return `trace ${trace.traceID}: no spans`;
  const origin = Math.min(...trace.spans.map((span) => span.startTime));
  const total = Math.max(...trace.spans.map((span) => span.startTime + span.duration)) - origin;
  const services = new Set<string>();
  const lines: Line[] = [];
  const walk = (node: SpanNode, depth: number) => {
    services.add(node.service);
    const indent = "  ".repeat(depth);
    lines.push({ label: `${indent}${node.service}  ${shortName(node.span.operationName)}`, node });
    if (node.missingParent !== undefined)
      lines.push({ label: "", text: `${indent}    ! parent span ${node.missingParent} is not in this trace` });
    for (const log of node.span.logs ?? []) {
      const name = log.fields.find((field) => field.key === "event")?.value ?? "log";
      const fields = log.fields.filter((field) => field.key !== "event").map(fieldText);
      const at = `+${duration(log.timestamp - node.span.startTime)}`;
      lines.push({
        label: "",
        text: `${indent}    · ${String(name)} ${at}${fields.length ? ` ${fields.join(" ")}` : ""}`,
      });
    }
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of spanTree(trace)) walk(root, 0);

  const labelWidth = Math.max(...lines.map((line) => (line.node ? line.label.length : 0)));
  const durations = lines.map((line) => (line.node ? duration(line.node.span.duration) : ""));
  const durationWidth = Math.max(...durations.map((text) => text.length));
  const started = new Date(origin / 1000).toISOString().replace("T", " ").replace("Z", " UTC");
  const header = `trace ${trace.traceID}  ${started}  ${duration(total)}  ${trace.spans.length} spans  services: ${[...services].sort().join(", ")}`;
  const body = lines.map((line, index) => {
    const node = line.node;
    if (!node) return line.text ?? "";
    const span = node.span;
    return [
      line.label.padEnd(labelWidth),
      (durations[index] ?? "").padStart(durationWidth),
      bar(span.startTime, span.duration, origin, total, width),
      outcome(span),
    ]
      .join("  ")
      .trimEnd();
  });
  return [header, ...body].join("\n");
}

/** Several traces (an order's, say), oldest first, separated by a blank line. */
export function formatTraces(traces: readonly JaegerTrace[], options: { barWidth?: number } = {}): string {
  const start = (trace: JaegerTrace) => Math.min(...trace.spans.map((span) => span.startTime));
  return [...traces]
    .sort((a, b) => start(a) - start(b))
    .map((trace) => formatWaterfall(trace, options))
    .join("\n\n");
}
