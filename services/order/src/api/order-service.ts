import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import { status } from "@grpc/grpc-js";
import {
  enqueueEvent,
  implement,
  isUuid,
  type ServiceContext,
  ServiceError,
  tagSpanWithOrder,
  transaction,
} from "@mesh/kit";
import { OrderCreatedSchema } from "@mesh/proto/shop/events/v1/events_pb";
import type { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { type EntityManager, type FilterQuery, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import { databaseDeadline, findStuckOrders, type StuckOrderRow } from "../db/deadlines.ts";
import { Order, SagaStepRow } from "../db/entities.ts";
import { type OrderState, waitingFor } from "../domain/saga.ts";
import { cancelReasonProblem, orderRequestProblems } from "../domain/validation.ts";
import { applySagaInput } from "../events/saga-steps.ts";
import { PriceList, type Prices, type UnitPrice } from "./price-list.ts";

export type InventoryClient = Client<typeof InventoryService>;

const STATUS: Record<OrderState, OrderStatus> = {
  PENDING: OrderStatus.PENDING,
  CONFIRMED: OrderStatus.CONFIRMED,
  CANCELLING: OrderStatus.CANCELLING,
  CANCELLED: OrderStatus.CANCELLED,
};
const STATE_OF = new Map<OrderStatus, OrderState>(
  Object.entries(STATUS).map(([state, value]) => [value, state as OrderState]),
);

const money = (amountMinor: number, currency: string) => ({ amountMinor: BigInt(amountMinor), currency });

export function orderView(order: Order, timeline: SagaStepRow[] = []) {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    lines: order.lines.map((line) => ({
      productId: line.productId,
      quantity: line.quantity,
      unitPrice: money(line.unitPriceMinor, order.currency),
    })),
    total: money(order.totalMinor, order.currency),
    status: STATUS[order.status],
    cancelReason: order.cancelReason,
    createTime: timestampFromDate(order.createdAt),
    updateTime: timestampFromDate(order.updatedAt),
    sagaDeadline: timestampFromDate(order.sagaDeadline),
    cardLast4: order.cardLast4,
    timeline: timeline.map((step) => ({
      time: timestampFromDate(step.time),
      trigger: step.trigger,
      fromStatus: STATUS[step.fromStatus],
      toStatus: STATUS[step.toStatus],
      detail: step.detail,
      eventId: step.eventId,
    })),
  };
}

function stuckOrderView(row: StuckOrderRow) {
  return {
    orderId: row.orderId,
    status: STATUS[row.status],
    sagaDeadline: timestampFromDate(row.sagaDeadline),
    waitingFor: waitingFor(row),
    stuckForSeconds: row.stuckForSeconds,
  };
}

/** A page size of a list call: 1-100, 0 meaning 20. */
function pageSize(requested: number): number {
  if (requested < 0 || requested > 100)
    throw new ServiceError(status.INVALID_ARGUMENT, `page_size must be 0-100, got ${requested}`);
  return requested || 20;
}

const TOKEN_USED =
  "card_token was already used for another order: a token pays for one order (tokenize the card again for a new one)";

async function timelineOf(em: EntityManager, orderId: string) {
  return em.find(SagaStepRow, { orderId }, { orderBy: { time: "asc" } });
}

/** The catalogue's unit prices from the inventory service (through the sidecar): the client never sets prices. */
async function fetchPrices(inventory: InventoryClient): Promise<Prices> {
  const found = new Map<string, UnitPrice>();
  let pageToken = "";
  do {
    const page = await inventory
      .listProducts({ pageSize: 100, pageToken }, { timeoutMs: 3000 })
      .catch((error: unknown) => {
        const failure = ConnectError.from(error);
        throw new ServiceError(
          status.UNAVAILABLE,
          `inventory is not answering, cannot price the order: ${failure.rawMessage}`,
        );
      });
    for (const product of page.products) {
      found.set(product.productId, {
        priceMinor: Number(product.unitPrice?.amountMinor ?? 0n),
        currency: product.unitPrice?.currency ?? "",
      });
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return found;
}

export interface OrderServiceOptions {
  /** A saga still PENDING this long after the order was placed is cancelled. */
  sagaTimeoutMs: number;
  /** A saga unfinished this long past its deadline is reported stuck. */
  sagaStuckGraceMs: number;
  /** How long the catalogue's prices are used before inventory is asked again (0: for every order). */
  priceListMaxAgeMs: number;
}

/** shop.order.v1.OrderService: creates orders (starting their saga), shows them with their timeline, cancels them. */
export function orderService(
  context: ServiceContext,
  inventory: InventoryClient,
  { sagaTimeoutMs, sagaStuckGraceMs, priceListMaxAgeMs }: OrderServiceOptions,
) {
  const em = () => context.orm.em.fork();
  const priceList = new PriceList(() => fetchPrices(inventory), priceListMaxAgeMs);
  const findByRequest = async (requestId: string) => {
    const fork = em();
    const order = await fork.findOne(Order, { requestId });
    return order && orderView(order, await timelineOf(fork, order.orderId));
  };

  return implement(OrderService, {
    async createOrder(request) {
      const problems = orderRequestProblems(request);
      if (problems.length) throw new ServiceError(status.INVALID_ARGUMENT, problems.join("; "));
      const existing = await findByRequest(request.requestId);
      if (existing) {
        tagSpanWithOrder(existing.orderId);
        return { order: existing };
      }
      const catalogue = await priceList.pricesFor(
        request.lines.map((line) => line.productId),
        performance.now(),
      );
      const lines = request.lines.map((line, index) => {
        const price = catalogue.get(line.productId);
        if (!price)
          throw new ServiceError(
            status.INVALID_ARGUMENT,
            `lines[${index}].product_id: unknown product "${line.productId}"`,
          );
        if (price.currency !== request.currency) {
          throw new ServiceError(
            status.INVALID_ARGUMENT,
            `lines[${index}]: ${line.productId} is priced in ${price.currency}, not ${request.currency}`,
          );
        }
        return { productId: line.productId, quantity: line.quantity, unitPriceMinor: price.priceMinor };
      });
      const totalMinor = lines.reduce((sum, line) => sum + line.quantity * line.unitPriceMinor, 0);
      const orderId = randomUUID();
      try {
        const order = await transaction(context, async (tx) => {
          const sagaDeadline = await databaseDeadline(tx, sagaTimeoutMs);
          const created = tx.create(Order, {
            orderId,
            requestId: request.requestId,
            customerId: request.customerId,
            lines,
            totalMinor,
            currency: request.currency,
            status: "PENDING",
            cancelReason: "",
            cardToken: request.cardToken,
            cardLast4: request.cardLast4,
            stockReserved: false,
            stockSettled: false,
            paymentSettled: false,
            sagaDeadline,
          });
          const placed = tx.create(SagaStepRow, {
            id: randomUUID(),
            orderId,
            time: new Date(),
            trigger: "CreateOrder",
            fromStatus: "PENDING",
            toStatus: "PENDING",
            detail: "order placed",
            eventId: "",
          });
          const message = create(OrderCreatedSchema, {
            orderId,
            customerId: request.customerId,
            lines: lines.map(({ productId, quantity }) => ({ productId, quantity })),
            total: money(totalMinor, request.currency),
            cardToken: request.cardToken,
            cardLast4: request.cardLast4,
            createTime: timestampFromDate(new Date()),
            sagaDeadline: timestampFromDate(sagaDeadline),
          });
          enqueueEvent(tx, {
            subject: "shop.order.created",
            schema: OrderCreatedSchema,
            message,
            correlationId: orderId,
          });
          // The timeline so far is this one step: the answer needs no read-back.
          return { created, placed };
        });
        tagSpanWithOrder(orderId);
        return { order: orderView(order.created, [order.placed]) };
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        // The same request_id raced in concurrently: answer with the order the other call created. Otherwise the
        // card token is another order's (the only other unique key; the order id is fresh).
        const raced = await findByRequest(request.requestId);
        if (!raced) throw new ServiceError(status.FAILED_PRECONDITION, TOKEN_USED);
        tagSpanWithOrder(raced.orderId);
        return { order: raced };
      }
    },

    async getOrder(request) {
      if (!isUuid(request.orderId))
        throw new ServiceError(status.INVALID_ARGUMENT, `order_id must be a UUID, got "${request.orderId}"`);
      tagSpanWithOrder(request.orderId);
      const fork = em();
      const order = await fork.findOne(Order, { orderId: request.orderId });
      if (!order) throw new ServiceError(status.NOT_FOUND, `no order ${request.orderId}`);
      return { order: orderView(order, await timelineOf(fork, order.orderId)) };
    },

    async listOrders(request) {
      const size = pageSize(request.pageSize);
      const where: FilterQuery<Order> = {};
      if (request.customerId) where.customerId = request.customerId;
      if (request.status) {
        const state = STATE_OF.get(request.status);
        if (!state) throw new ServiceError(status.INVALID_ARGUMENT, `unknown status ${request.status}`);
        where.status = state;
      }
      if (request.pageToken) {
        const [time, id] = Buffer.from(request.pageToken, "base64url").toString().split("|");
        if (!time || !id) throw new ServiceError(status.INVALID_ARGUMENT, "page_token is not one this service issued");
        where.$or = [{ createdAt: { $lt: new Date(time) } }, { createdAt: new Date(time), orderId: { $lt: id } }];
      }
      const orders = await em().find(Order, where, {
        orderBy: { createdAt: "desc", orderId: "desc" },
        limit: size + 1,
      });
      const page = orders.slice(0, size);
      const last = page.at(-1);
      const nextPageToken =
        orders.length > size && last
          ? Buffer.from(`${last.createdAt.toISOString()}|${last.orderId}`).toString("base64url")
          : "";
      return { orders: page.map((order) => orderView(order)), nextPageToken };
    },

    async cancelOrder(request) {
      if (!isUuid(request.orderId))
        throw new ServiceError(status.INVALID_ARGUMENT, `order_id must be a UUID, got "${request.orderId}"`);
      const problem = cancelReasonProblem(request.reason);
      if (problem) throw new ServiceError(status.INVALID_ARGUMENT, problem);
      tagSpanWithOrder(request.orderId);
      const order = await transaction(context, (tx) =>
        applySagaInput(
          tx,
          request.orderId,
          { kind: "cancel_requested", reason: request.reason },
          { trigger: "CancelOrder", correlationId: request.orderId },
          sagaTimeoutMs,
        ),
      );
      if (!order) throw new ServiceError(status.NOT_FOUND, `no order ${request.orderId}`);
      return { order: orderView(order, await timelineOf(em(), order.orderId)) };
    },

    async listStuckOrders(request) {
      const stuck = await findStuckOrders(em(), sagaStuckGraceMs, pageSize(request.pageSize));
      return { orders: stuck.map(stuckOrderView) };
    },
  });
}
