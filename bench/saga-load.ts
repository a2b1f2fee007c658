// Orders placed with a fixed number in flight, each waited for until its saga ends: OrderConfirmed or
// OrderCancelled for it on the event stream (the order id is the events' correlation id).
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import type { SagaTarget } from "./saga-targets.ts";

export interface SagaLoadOptions {
  inFlight: number;
  /** Place orders for this long... */
  seconds?: number;
  /** ...or this many in all. */
  sagas?: number;
}

export interface SagaLoadResult {
  /** Each completed saga's time from placing the order to its end, ms. */
  latencies: number[];
  cancelled: number;
  seconds: number;
  /** Orders whose placing failed, by error message: their sagas are not waited for. */
  failedPlacements: Map<string, number>;
}

const FAILED_PLACEMENT_PAUSE_MS = 200;
const ENDS = new Set(["shop.order.confirmed", "shop.order.cancelled"]);

export async function runSagaLoad(target: SagaTarget, options: SagaLoadOptions): Promise<SagaLoadResult> {
  const nc = await connect({ servers: target.natsUrl.split(",") });
  const ended = new Map<string, (subject: string) => void>();
  // An end may arrive before placeOrder has returned the order's id: keep it for the waiter.
  const early = new Map<string, string>();
  const subscription = nc.subscribe("shop.order.>", {
    callback: (_, message) => {
      if (!ENDS.has(message.subject)) return;
      const orderId = message.headers?.get("Shop-Correlation-Id") ?? "";
      const waiter = ended.get(orderId);
      if (waiter) waiter(message.subject);
      else early.set(orderId, message.subject);
    },
  });
  await nc.flush();
  const result: SagaLoadResult = { latencies: [], cancelled: 0, seconds: 0, failedPlacements: new Map() };
  const t0 = performance.now();
  const deadline = t0 + (options.seconds ?? Number.POSITIVE_INFINITY) * 1000;
  let remaining = options.sagas ?? Number.POSITIVE_INFINITY;

  const placeOne = async (): Promise<void> => {
    const started = performance.now();
    const orderId = await target.placeOrder().catch((error: unknown) => {
      const message = (error as Error).message;
      result.failedPlacements.set(message, (result.failedPlacements.get(message) ?? 0) + 1);
      return undefined;
    });
    // A client whose order failed waits a moment before its next, as a real one would: no hot loop of failures.
    if (orderId === undefined) return sleep(FAILED_PLACEMENT_PAUSE_MS);
    const subject = early.get(orderId) ?? (await new Promise<string>((resolve) => ended.set(orderId, resolve)));
    early.delete(orderId);
    ended.delete(orderId);
    result.latencies.push(performance.now() - started);
    if (subject === "shop.order.cancelled") result.cancelled++;
  };
  try {
    await Promise.all(
      Array.from({ length: options.inFlight }, async () => {
        while (performance.now() < deadline && remaining-- > 0) await placeOne();
      }),
    );
  } finally {
    result.seconds = (performance.now() - t0) / 1000;
    subscription.unsubscribe();
    await nc.close();
  }
  return result;
}
