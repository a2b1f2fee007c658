import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { isUuid, tagSpanWithOrder } from "@mesh/kit";
import type { GatewayService, GetOrderViewResponseSchema } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import type { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import type { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import type { PaymentService } from "@mesh/proto/shop/payment/v1/payment_pb";
import { cardFormatProblem } from "../domain/card-format.ts";

export interface Backends {
  order: Client<typeof OrderService>;
  inventory: Client<typeof InventoryService>;
  payment: Client<typeof PaymentService>;
}

const BACKEND_TIMEOUT_MS = 3000;

/** What a failed part of the order view looks like to the caller: which part, the status name and message. */
function missingPart(part: string, error: unknown) {
  const failure = ConnectError.from(error);
  return { part, code: Code[failure.code] ?? "Unknown", message: failure.rawMessage };
}

/**
 * Exchanges the caller's card for payment's token, so the card number goes no further than payment. The order's
 * request_id keys the exchange: a retried PlaceOrder gets the same token back.
 */
async function tokenize(payment: Backends["payment"], requestId: string, cardNumber: string) {
  const problem = cardFormatProblem(cardNumber);
  if (problem) throw new ConnectError(problem, Code.InvalidArgument);
  try {
    return await payment.tokenizeCard({ requestId, cardNumber }, { timeoutMs: BACKEND_TIMEOUT_MS });
  } catch (error) {
    const failure = ConnectError.from(error);
    // Payment's refusals (a bad card, a reused request_id) are the caller's to fix; anything else is ours.
    const code = [Code.InvalidArgument, Code.AlreadyExists, Code.DeadlineExceeded].includes(failure.code)
      ? failure.code
      : Code.Unavailable;
    throw new ConnectError(`the card could not be tokenized by payment: ${failure.rawMessage}`, code);
  }
}

/** shop.gateway.v1.GatewayService: the edge API, calling the services through the gateway's sidecar. */
export function gatewayService(backends: Backends): ServiceImpl<typeof GatewayService> {
  return {
    async placeOrder(request) {
      if (!request.requestId) {
        throw new ConnectError(
          "request_id is required (a client-chosen key, for example a UUID)",
          Code.InvalidArgument,
        );
      }
      const card = await tokenize(backends.payment, request.requestId, request.cardNumber);
      const { order } = await backends.order.createOrder(
        {
          requestId: request.requestId,
          customerId: request.customerId,
          lines: request.lines,
          cardToken: card.cardToken,
          cardLast4: card.cardLast4,
          currency: request.currency,
        },
        { timeoutMs: BACKEND_TIMEOUT_MS },
      );
      if (order) tagSpanWithOrder(order.orderId);
      return { order };
    },

    async getOrderView(request) {
      if (!isUuid(request.orderId)) {
        throw new ConnectError(`order_id must be a UUID, got "${request.orderId}"`, Code.InvalidArgument);
      }
      tagSpanWithOrder(request.orderId);
      const options = { timeoutMs: BACKEND_TIMEOUT_MS };
      const [order, payments, reservation] = await Promise.allSettled([
        backends.order.getOrder({ orderId: request.orderId }, options),
        backends.payment.listPayments({ orderId: request.orderId }, options),
        backends.inventory.getReservation({ orderId: request.orderId }, options),
      ]);
      if (order.status === "rejected" && ConnectError.from(order.reason).code === Code.NotFound) {
        throw new ConnectError(`no order ${request.orderId}`, Code.NotFound);
      }
      const view: MessageInitShape<typeof GetOrderViewResponseSchema> = {};
      const missing: ReturnType<typeof missingPart>[] = [];
      view.missingParts = missing;
      if (order.status === "fulfilled") view.order = order.value.order;
      else missing.push(missingPart("order", order.reason));
      if (payments.status === "fulfilled") view.payments = payments.value.payments;
      else missing.push(missingPart("payments", payments.reason));
      if (reservation.status === "fulfilled") view.reservation = reservation.value.reservation;
      // No reservation yet is a normal state of a young order, not a failure.
      else if (ConnectError.from(reservation.reason).code !== Code.NotFound)
        missing.push(missingPart("reservation", reservation.reason));
      return view;
    },

    async listProducts(request) {
      const { products, nextPageToken } = await backends.inventory.listProducts(
        { pageSize: request.pageSize, pageToken: request.pageToken },
        { timeoutMs: BACKEND_TIMEOUT_MS },
      );
      return { products, nextPageToken };
    },
  };
}
