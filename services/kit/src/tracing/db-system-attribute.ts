import type { Context } from "@opentelemetry/api";
import type { Span, SpanProcessor } from "@opentelemetry/sdk-trace";

/**
 * Adds `db.system` (the tracing contract's attribute, which the dashboard and Jaeger-style searches use) to database
 * spans that carry only its newer name `db.system.name`, as instrumentation-pg writes them now.
 */
export class DbSystemAttribute implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    const system = span.attributes["db.system.name"];
    if (system !== undefined && span.attributes["db.system"] === undefined) span.setAttribute("db.system", system);
  }

  onEnd(): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
