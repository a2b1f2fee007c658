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

export interface MixedLoadResult {
  reads: KindResult;
  views: KindResult & { partial: number };
  orders: KindResult & { failedRequestIds: string[] };
}

export interface MixedLoad {
  stop(): Promise<MixedLoadResult>;
}

const CALL_TIMEOUT_MS = 5000;
/** What every order buys, one unit at a time. */
export const LOAD_PRODUCT = "sku-filter";

/** Starts 3 ListProducts, 1 GetOrderView (of an order placed here) and 1 PlaceOrder in flight at all times. */
export function startMixedLoad(gateway: Client<typeof GatewayService>, customerId: string): MixedLoad {
  const placed: string[] = [];
  const failedRequestIds: string[] = [];
  let partial = 0;
  const reads = steadyLoad(() => gateway.listProducts({ pageSize: 5 }, { timeoutMs: CALL_TIMEOUT_MS }), 3);
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
    async stop() {
      const [read, view, order] = await Promise.all([reads.stop(), views.stop(), orders.stop()]);
      return { reads: read, views: { ...view, partial }, orders: { ...order, failedRequestIds } };
    },
  };
}
