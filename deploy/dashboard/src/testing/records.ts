// Span records built directly, for the store and API tests.
import type { SpanRecord, Tag } from "../model.ts";

export function record(
  fields: Partial<SpanRecord> & { traceId: string; spanId: string },
  tags: Record<string, string> = {},
): SpanRecord {
  const attributes: Tag[] = Object.entries(tags).map(([key, value]) => ({ key, type: "string", value }));
  return {
    parentSpanId: undefined,
    name: "op",
    kind: "server",
    startUs: 1_000_000,
    durationUs: 10,
    attributes,
    events: [],
    statusCode: 0,
    statusMessage: "",
    scope: { name: "", version: "" },
    process: { serviceName: "order", tags: [] },
    ...fields,
  };
}

export const traceIdOf = (n: number) => n.toString(16).padStart(32, "0");
export const spanIdOf = (n: number) => n.toString(16).padStart(16, "0");
