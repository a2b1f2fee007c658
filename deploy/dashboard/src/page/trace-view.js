// Pure shaping of a Jaeger-JSON trace for the page: the waterfall's rows (depth-first by parent, in start order)
// and the saga timeline (the trace's messaging spans, in time order). No DOM here; types in trace-view.d.ts.

/** A tag's value on a span, or undefined. */
export function tagOf(span, key) {
  return span.tags.find((tag) => tag.key === key)?.value;
}

/** True when the span's status is an error (OTLP status ERROR, or a gRPC status other than 0 on an RPC span). */
export function isError(span) {
  if (tagOf(span, "error") === true || tagOf(span, "otel.status_code") === "ERROR") return true;
  const code = tagOf(span, "rpc.grpc.status_code");
  return code !== undefined && Number(code) !== 0;
}

/** The waterfall: every span once, children under their parents (by start time), orphans at the top level. */
export function waterfallRows(trace) {
  const spans = [...trace.spans].sort((a, b) => a.startTime - b.startTime);
  const ids = new Set(spans.map((span) => span.spanID));
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    const parent = span.references.find((ref) => ref.refType === "CHILD_OF" && ids.has(ref.spanID))?.spanID;
    if (parent && parent !== span.spanID) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(span);
    } else {
      roots.push(span);
    }
  }
  const start = spans.length ? spans[0].startTime : 0;
  const end = spans.reduce((max, span) => Math.max(max, span.startTime + span.duration), start);
  const rows = [];
  const seen = new Set();
  const visit = (span, depth) => {
    if (seen.has(span.spanID)) return;
    seen.add(span.spanID);
    const attempt = tagOf(span, "mesh.attempt");
    rows.push({
      spanID: span.spanID,
      depth,
      name: span.operationName,
      service: trace.processes[span.processID]?.serviceName ?? "?",
      kind: tagOf(span, "span.kind") ?? "",
      offsetUs: span.startTime - start,
      durationUs: span.duration,
      error: isError(span),
      status: tagOf(span, "otel.status_description") ?? "",
      grpcStatus: tagOf(span, "rpc.grpc.status_code"),
      attempt: attempt === undefined ? undefined : Number(attempt),
      retryReason: tagOf(span, "mesh.retry_reason"),
      events: span.logs.map((log) => ({
        offsetUs: log.timestamp - start,
        name: log.fields.find((field) => field.key === "event")?.value ?? "event",
      })),
    });
    for (const child of children.get(span.spanID) ?? []) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  return { rows, totalUs: Math.max(end - start, 1), startUs: start };
}

/** Is this span a JetStream publish or consume of a shop event? */
function messagingOperation(span) {
  const operation = tagOf(span, "messaging.operation.name") ?? tagOf(span, "messaging.operation");
  if (operation === "publish" || operation === "process") return operation;
  const kind = tagOf(span, "span.kind");
  if (kind === "producer" && span.operationName.startsWith("publish ")) return "publish";
  if (kind === "consumer" && span.operationName.startsWith("process ")) return "process";
  return undefined;
}

/** The saga timeline: each publish and process of a shop.* event, in time order, with its outcome. */
export function sagaSteps(trace) {
  const steps = [];
  for (const span of trace.spans) {
    const operation = messagingOperation(span);
    if (!operation) continue;
    const subject = tagOf(span, "messaging.destination.name") ?? span.operationName.replace(/^(publish|process) /, "");
    if (!String(subject).startsWith("shop.")) continue;
    const error = isError(span);
    steps.push({
      spanID: span.spanID,
      startUs: span.startTime,
      operation,
      subject: String(subject),
      service: trace.processes[span.processID]?.serviceName ?? "?",
      consumer: tagOf(span, "messaging.consumer.group.name"),
      eventType: tagOf(span, "shop.event.type"),
      outcome:
        tagOf(span, "shop.event.outcome") ?? (error ? "error" : operation === "publish" ? "published" : "applied"),
      error,
    });
  }
  return steps.sort((a, b) => a.startUs - b.startUs);
}

/** The order id of a trace (any span's shop.order_id), or undefined. */
export function orderIdOf(trace) {
  for (const span of trace.spans) {
    const id = tagOf(span, "shop.order_id");
    if (id !== undefined) return String(id);
  }
  return undefined;
}

/** One line for the trace list: root span, services, span count, duration. */
export function traceSummary(trace) {
  const { rows, totalUs, startUs } = waterfallRows(trace);
  const root = rows[0];
  return {
    traceID: trace.traceID,
    startUs,
    durationUs: totalUs,
    root: root ? `${root.service}: ${root.name}` : "(no spans)",
    services: [...new Set(rows.map((row) => row.service))].sort(),
    spans: rows.length,
    errors: rows.filter((row) => row.error).length,
    orderId: orderIdOf(trace),
  };
}

/**
 * Of an order's traces (its saga, and later reads of it), the one to open: the one with the most saga steps, then
 * the most spans. The newest is usually a read.
 */
export function orderTraceOf(traces) {
  let best;
  let bestScore = [-1, -1];
  for (const trace of traces) {
    const score = [sagaSteps(trace).length, trace.spans.length];
    if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
      best = trace;
      bestScore = score;
    }
  }
  return best;
}
