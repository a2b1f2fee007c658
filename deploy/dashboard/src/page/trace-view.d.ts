// Types of trace-view.js (plain JavaScript, served to the page as is), for the tests that import it.
import type { JaegerTrace } from "../api/jaeger.ts";

type JaegerSpan = JaegerTrace["spans"][number];

export interface WaterfallRow {
  spanID: string;
  depth: number;
  name: string;
  service: string;
  kind: string;
  offsetUs: number;
  durationUs: number;
  error: boolean;
  status: string;
  grpcStatus: string | number | boolean | undefined;
  attempt: number | undefined;
  retryReason: string | number | boolean | undefined;
  events: { offsetUs: number; name: string | number | boolean }[];
}

export interface SagaStep {
  spanID: string;
  startUs: number;
  operation: "publish" | "process";
  subject: string;
  service: string;
  consumer: string | number | boolean | undefined;
  eventType: string | number | boolean | undefined;
  outcome: string | number | boolean;
  error: boolean;
}

export function tagOf(span: JaegerSpan, key: string): string | number | boolean | undefined;
export function isError(span: JaegerSpan): boolean;
export function waterfallRows(trace: JaegerTrace): { rows: WaterfallRow[]; totalUs: number; startUs: number };
export function sagaSteps(trace: JaegerTrace): SagaStep[];
export function orderTraceOf(traces: JaegerTrace[]): JaegerTrace | undefined;
export function orderIdOf(trace: JaegerTrace): string | undefined;
export function traceSummary(trace: JaegerTrace): {
  traceID: string;
  startUs: number;
  durationUs: number;
  root: string;
  services: string[];
  spans: number;
  errors: number;
  orderId: string | undefined;
};
