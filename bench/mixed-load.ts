// The steady load of the whole-mesh drills: catalogue reads, order views and new orders through the gateway, each
// kind counted apart. Every method here may be retried by the mesh (reads have no side effects, PlaceOrder is
// idempotent by request id), so every failure counts against the mesh.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@connectrpc/connect";
import { steadyLoad } from "@mesh/kit/testing";
import type { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";

export interface KindResult {
  calls: number;
  failures: number;
  errors: string[];
}

/** One read: when it started (ms on the performance clock), how long it took, and whether it failed. */
export interface ReadSample {
  start: number;
  ms: number;
  failed: boolean;
}

export interface MixedLoadResult {
  reads: KindResult & { samples: ReadSample[] };
  views: KindResult & { partial: number };
  orders: KindResult & { failedRequestIds: string[] };
}

export interface MixedLoad {
  /** The reads finished so far (the array the result will hold), when the options keep them. */
  readonly readSamples: readonly ReadSample[];
  stop(): Promise<MixedLoadResult>;
}

export interface MixedLoadOptions {
  /** The reads' deadline; default 5 s, as every other call's. */
  readTimeoutMs?: number;
  /** Keep every read's start and duration (for latency percentiles); off for long runs such as the soak. */
  keepReadSamples?: boolean;
}

const CALL_TIMEOUT_MS = 5000;
/** What every order buys, one unit at a time. */
export const LOAD_PRODUCT = "sku-filter";

/**
 * Starts 3 ListProducts, 1 GetOrderView (of an order placed here) and 1 PlaceOrder in flight at all times; with
 * keepReadSamples, each read's start and duration are kept, for latency percentiles over any window.
 */
export function startMixedLoad(
  gateway: Client<typeof GatewayService>,
  customerId: string,
  options: MixedLoadOptions = {},
): MixedLoad {
  const placed: string[] = [];
  const failedRequestIds: string[] = [];
  const samples: ReadSample[] = [];
  let partial = 0;
  const readTimeoutMs = options.readTimeoutMs ?? CALL_TIMEOUT_MS;
  const reads = steadyLoad(async () => {
    const start = performance.now();
    let failed = true;
    try {
      await gateway.listProducts({ pageSize: 5 }, { timeoutMs: readTimeoutMs });
      failed = false;
    } finally {
      if (options.keepReadSamples) samples.push({ start, ms: performance.now() - start, failed });
    }
  }, 3);
  const views = steadyLoad(async () => {
    const orderId = placed[Math.floor(Math.random() * placed.length)];
    if (!orderId) return sleep(50); // nothing to view yet; do not spin
    const view = await gateway.getOrderView({ orderId }, { timeoutMs: CALL_TIMEOUT_MS });
    if (view.missingParts.length > 0) partial++;
  }, 1);
  const orders = steadyLoad(async () => {
    const requestId = randomUUID();
    try {
      const { order } = await gateway.placeOrder(
        {
          requestId,
          customerId,
          lines: [{ productId: LOAD_PRODUCT, quantity: 1 }],
          cardNumber: "4242424242424242",
          currency: "USD",
        },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      if (order) placed.push(order.orderId);
    } catch (error) {
      failedRequestIds.push(requestId);
      throw error;
    }
  }, 1);
  return {
    readSamples: samples,
    async stop() {
      const [read, view, order] = await Promise.all([reads.stop(), views.stop(), orders.stop()]);
      return { reads: { ...read, samples }, views: { ...view, partial }, orders: { ...order, failedRequestIds } };
    },
  };
}
