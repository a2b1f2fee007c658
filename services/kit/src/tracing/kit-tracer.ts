import { type Tracer, trace } from "@opentelemetry/api";
// Spans need the context manager and propagator installed; that module installs them on load.
import "./propagation.ts";

/** The attribute that makes every span of one order findable (contract: search traces by order id). */
export const ORDER_ID = "shop.order_id";

/**
 * The kit's tracer. Looked up per span rather than kept: the global API caches a tracer of the provider registered
 * when it was first used, and a process (a test file) may start tracing again after a shutdown.
 */
export function kitTracer(): Tracer {
  return trace.getTracer("@mesh/kit");
}

/** Sets `shop.order_id` on the active span (a handler's, once it knows the order it works on). */
export function tagSpanWithOrder(orderId: string): void {
  if (orderId) trace.getActiveSpan()?.setAttribute(ORDER_ID, orderId);
}
