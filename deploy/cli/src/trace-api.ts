// The trace API `mesh trace` reads: the subset of Jaeger's query API that the mesh dashboard serves and Jaeger's
// query port (16686) serves too, so the same command works against either.
import type { JaegerTrace } from "./waterfall.ts";

/** Where the trace API is when MESH_TRACES_URL is not set: Jaeger's query port, as compose publishes it. */
export const DEFAULT_TRACES_URL = "http://127.0.0.1:16686";

export function tracesUrl(): string {
  const url = (process.env.MESH_TRACES_URL || DEFAULT_TRACES_URL).replace(/\/+$/, "");
  return /^https?:\/\//.test(url) ? url : `http://${url}`;
}

/** The service whose spans carry `shop.order_id` (its handler spans): Jaeger's search needs one. */
const ORDER_SERVICE = "order";

/** A W3C / OpenTelemetry trace id: 32 hex digits. Anything else is taken for an order id. */
export const isTraceId = (argument: string) => /^[0-9a-f]{32}$/i.test(argument);

/** Nothing matched: the command says so and exits 1, as it does for any failure. */
export class NotFound extends Error {}

interface TracesAnswer {
  data?: JaegerTrace[] | null;
  errors?: { code?: number; msg?: string }[] | null;
}

async function get(path: string): Promise<{ status: number; body: TracesAnswer; text: string }> {
  const url = `${tracesUrl()}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as Error).cause ?? (error as Error).message;
    throw new Error(
      `cannot reach the trace API at ${tracesUrl()} (set MESH_TRACES_URL to the mesh dashboard or Jaeger's query port): ${cause}`,
    );
  }
  const text = await response.text();
  let body: TracesAnswer = {};
  try {
    body = JSON.parse(text) as TracesAnswer;
  } catch {
    if (response.ok)
      throw new Error(`${url} answered ${response.status} with something other than JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body, text };
}

const problem = (answer: { status: number; body: TracesAnswer; text: string }) =>
  answer.body.errors?.map((error) => error.msg).join("; ") || answer.text.slice(0, 200);

/** One trace by id; NotFound when the server has none. */
export async function traceById(traceId: string): Promise<JaegerTrace[]> {
  const answer = await get(`/api/traces/${traceId.toLowerCase()}`);
  if (answer.status === 404 || (answer.status < 300 && !answer.body.data?.length))
    throw new NotFound(`trace ${traceId} not found at ${tracesUrl()}`);
  if (answer.status >= 300) throw new Error(`${tracesUrl()} answered ${answer.status}: ${problem(answer)}`);
  return answer.body.data ?? [];
}

/**
 * The traces with a span tagged `shop.order_id` = the order id. Asked without a service first (the dashboard
 * searches every service); Jaeger demands one and answers 400 naming it, so then again with the order service.
 */
export async function tracesOfOrder(orderId: string): Promise<JaegerTrace[]> {
  const query = `tags=${encodeURIComponent(JSON.stringify({ "shop.order_id": orderId }))}&limit=20`;
  let answer = await get(`/api/traces?${query}`);
  if (answer.status >= 400 && answer.status < 500 && /service/i.test(problem(answer)))
    answer = await get(`/api/traces?service=${ORDER_SERVICE}&${query}`);
  if (answer.status >= 300) throw new Error(`${tracesUrl()} answered ${answer.status}: ${problem(answer)}`);
  const traces = answer.body.data ?? [];
  if (traces.length === 0) throw new NotFound(`no trace has shop.order_id=${orderId} at ${tracesUrl()}`);
  return traces;
}

/** A trace id or an order id: the matching traces. */
export function fetchTraces(argument: string): Promise<JaegerTrace[]> {
  return isTraceId(argument) ? traceById(argument) : tracesOfOrder(argument);
}
