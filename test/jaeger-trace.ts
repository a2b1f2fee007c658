// Reading traces in the Jaeger query API's JSON, as the mesh dashboard (and Jaeger) serve them: who made a span,
// its kind, its parent, and whether one span lies under another.

import type { JaegerSpan, JaegerTrace } from "@mesh/dashboard";

export type { JaegerSpan, JaegerTrace };

/** Traces whose spans carry the tag, newest first. */
export async function tracesTagged(apiUrl: string, tag: string, value: string): Promise<JaegerTrace[]> {
  const tags = encodeURIComponent(JSON.stringify({ [tag]: value }));
  const response = await fetch(`${apiUrl}/api/traces?tags=${tags}&limit=50`);
  if (!response.ok) throw new Error(`trace search answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: JaegerTrace[] }).data;
}

export class TraceView {
  private readonly byId: Map<string, JaegerSpan>;

  constructor(readonly trace: JaegerTrace) {
    this.byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  }

  service(span: JaegerSpan): string | undefined {
    return this.trace.processes[span.processID]?.serviceName;
  }

  tag(span: JaegerSpan, key: string): unknown {
    return span.tags.find((tag) => tag.key === key)?.value;
  }

  parent(span: JaegerSpan): JaegerSpan | undefined {
    const reference = span.references.find((each) => each.refType === "CHILD_OF");
    return reference ? this.byId.get(reference.spanID) : undefined;
  }

  /** The spans a service made of a kind under a name (exact, or a predicate). */
  find(service: string, kind: string, name: string | ((name: string) => boolean)): JaegerSpan[] {
    const matches = typeof name === "string" ? (each: string) => each === name : name;
    return this.trace.spans.filter(
      (span) => this.service(span) === service && this.tag(span, "span.kind") === kind && matches(span.operationName),
    );
  }

  /** The one such span; throws naming what was there instead. */
  one(service: string, kind: string, name: string | ((name: string) => boolean)): JaegerSpan {
    const found = this.find(service, kind, name);
    if (found.length !== 1) {
      throw new Error(
        `expected one ${kind} span ${String(name)} from ${service}, found ${found.length}:\n${this.describe()}`,
      );
    }
    return found[0] as JaegerSpan;
  }

  /** True when `span` lies under `ancestor` (following parents). */
  isUnder(span: JaegerSpan, ancestor: JaegerSpan): boolean {
    for (let at = this.parent(span); at; at = this.parent(at)) if (at.spanID === ancestor.spanID) return true;
    return false;
  }

  describe(): string {
    return this.trace.spans
      .map((span) => `${this.service(span)} ${this.tag(span, "span.kind")} ${span.operationName}`)
      .sort()
      .join("\n");
  }
}
