import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, propagation, type Span, SpanKind, trace } from "@opentelemetry/api";
import { kitTracer } from "./kit-tracer.ts";
import { fetchHeaders } from "./propagation.ts";
import { endRpcSpan, rpcAttributes, rpcSpanName } from "./rpc-spans.ts";

function endWithError(span: Span, error: unknown) {
  const failure = ConnectError.from(error);
  endRpcSpan(span, failure.code, failure.rawMessage);
}

/** A response stream that ends its call's span once it is read to the end, fails, or is abandoned. */
async function* endSpanAfter<T>(messages: AsyncIterable<T>, span: Span): AsyncIterable<T> {
  let failed = false;
  try {
    yield* messages;
  } catch (error) {
    failed = true;
    endWithError(span, error);
    throw error;
  } finally {
    if (!failed) endRpcSpan(span, 0);
  }
}

/**
 * Records a CLIENT span per call of a connect client, a child of the active context (the handler or consumer that
 * makes the call), and sends the span's `traceparent`. Connect's codes are gRPC's, so they are recorded as such.
 * With tracing off the active context's own traceparent is sent unchanged.
 */
export const traceCalls: Interceptor = (next) => async (request) => {
  const parent = context.active();
  const span = kitTracer().startSpan(
    rpcSpanName(request.method),
    { kind: SpanKind.CLIENT, attributes: rpcAttributes(request.method, "grpc") },
    parent,
  );
  const callContext = trace.setSpan(parent, span);
  propagation.inject(callContext, request.header, fetchHeaders);
  try {
    const response = await context.with(callContext, () => next(request));
    if (!response.stream) {
      endRpcSpan(span, 0);
      return response;
    }
    return { ...response, message: endSpanAfter(response.message, span) };
  } catch (error) {
    endWithError(span, error);
    throw error;
  }
};
