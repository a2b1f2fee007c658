import {
  type Context,
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * Registers the W3C trace-context propagator and the AsyncLocalStorage context manager (both cheap, no SDK). Without
 * them the active context would always be empty, and an incoming traceparent could not reach the outbox rows and
 * outgoing calls made while handling it, so the kit installs them whether or not spans are recorded.
 */
function installPropagation(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

// On load: every kit module that reads or passes on trace context imports this one, whatever the process's entry.
installPropagation();

/** The context a traceparent (from an outbox row or an event header) names; the root context when it names none. */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

/** The traceparent of a context's span; undefined when the context holds no valid span context. */
export function traceparentOf(of: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(of, carrier);
  return carrier.traceparent;
}

/** Reads and writes trace headers on a Fetch API Headers object (connect's request headers). */
export const fetchHeaders: TextMapGetter<Headers> & TextMapSetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
  set: (headers, key, value) => headers.set(key, value),
};
