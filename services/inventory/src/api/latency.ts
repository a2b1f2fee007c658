import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceImplementation } from "@mesh/kit";

type Handler = ServiceImplementation["handlers"][string];

/**
 * The service with every unary handler answering `latencyMs` later: a drill knob (INVENTORY_LATENCY_MS) that makes
 * one instance slow while its health checks still pass, as the fault suite's slow-instance fault does. The wait
 * ends early when the caller gives up, so a cancelled call holds nothing; 0 returns the service unchanged.
 */
export function withLatency(implementation: ServiceImplementation, latencyMs: number): ServiceImplementation {
  if (latencyMs <= 0) return implementation;
  const unary = new Set(
    implementation.service.methods.filter((method) => method.methodKind === "unary").map((method) => method.localName),
  );
  const handlers = Object.fromEntries(
    Object.entries(implementation.handlers).map(([name, handler]): [string, Handler] => {
      if (!unary.has(name)) return [name, handler];
      const delayed: Handler = async (input, context) => {
        await sleep(latencyMs, undefined, { signal: context.signal }).catch(() => {});
        return handler(input, context);
      };
      return [name, delayed];
    }),
  );
  return { service: implementation.service, handlers };
}
