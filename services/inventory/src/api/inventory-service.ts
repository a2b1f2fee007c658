import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { implement, type ServiceContext, ServiceError, transaction } from "@mesh/kit";
import { InventoryService, ReservationStatus } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { Adjustment, Product, Reservation } from "../db/entities.ts";
import { lockProducts } from "../db/stock-repository.ts";

const stockOf = (product: Product) => ({
  productId: product.productId,
  available: BigInt(product.available),
  reserved: BigInt(product.reserved),
  sold: BigInt(product.sold),
});

const productView = (product: Product) => ({
  productId: product.productId,
  name: product.name,
  description: product.description,
  unitPrice: { amountMinor: BigInt(product.priceMinor), currency: product.currency },
  stock: stockOf(product),
});

const RESERVATION_STATUS = {
  RESERVED: ReservationStatus.RESERVED,
  COMMITTED: ReservationStatus.COMMITTED,
  RELEASED: ReservationStatus.RELEASED,
  REJECTED: ReservationStatus.REJECTED,
} as const;

function pageSize(requested: number, fallback: number): number {
  if (requested < 0 || requested > 100)
    throw new ServiceError(status.INVALID_ARGUMENT, `page_size must be 0-100, got ${requested}`);
  return requested || fallback;
}

const MAX_ADJUSTMENT_REASON = 1024;

/** shop.inventory.v1.InventoryService over the inventory database. */
export function inventoryService(context: ServiceContext) {
  const em = () => context.orm.em.fork();
  return implement(InventoryService, {
    async listProducts(request) {
      const size = pageSize(request.pageSize, 50);
      const products = await em().find(Product, request.pageToken ? { productId: { $gt: request.pageToken } } : {}, {
        orderBy: { productId: "asc" },
        limit: size + 1,
      });
      const page = products.slice(0, size);
      return {
        products: page.map(productView),
        nextPageToken: products.length > size ? (page.at(-1)?.productId ?? "") : "",
      };
    },

    async getStock(request) {
      if (request.productIds.length === 0 || request.productIds.length > 100) {
        throw new ServiceError(
          status.INVALID_ARGUMENT,
          `product_ids must name 1-100 products, got ${request.productIds.length}`,
        );
      }
      const products = new Map(
        (await em().find(Product, { productId: { $in: request.productIds } })).map((p) => [p.productId, p]),
      );
      const missing = request.productIds.filter((id) => !products.has(id));
      if (missing.length) throw new ServiceError(status.NOT_FOUND, `unknown products: ${missing.join(", ")}`);
      return { stocks: request.productIds.map((id) => stockOf(products.get(id) as Product)) };
    },

    async adjustStock(request) {
      if (!request.adjustmentId) throw new ServiceError(status.INVALID_ARGUMENT, "adjustment_id is required");
      if (request.delta === 0n) throw new ServiceError(status.INVALID_ARGUMENT, "delta must not be 0");
      // An operator's words are refused rather than cut: the adjustment's column holds 1024 characters.
      if ([...request.reason].length > MAX_ADJUSTMENT_REASON)
        throw new ServiceError(status.INVALID_ARGUMENT, `reason is longer than ${MAX_ADJUSTMENT_REASON} characters`);
      return transaction(context, async (tx) => {
        const [product] = [...(await lockProducts(tx, [{ productId: request.productId, quantity: 0 }])).values()];
        if (!product) throw new ServiceError(status.NOT_FOUND, `unknown product ${request.productId}`);
        if (await tx.findOne(Adjustment, { adjustmentId: request.adjustmentId })) return { stock: stockOf(product) };
        const available = product.available + Number(request.delta);
        if (available < 0) {
          throw new ServiceError(
            status.FAILED_PRECONDITION,
            `cannot remove ${-request.delta} units of ${product.productId}: only ${product.available} available`,
          );
        }
        product.available = available;
        tx.create(Adjustment, {
          adjustmentId: request.adjustmentId,
          productId: product.productId,
          delta: Number(request.delta),
          reason: request.reason,
        });
        return { stock: stockOf(product) };
      });
    },

    async getReservation(request) {
      const reservation = await em().findOne(Reservation, { orderId: request.orderId });
      if (!reservation) throw new ServiceError(status.NOT_FOUND, `no reservation for order ${request.orderId}`);
      return {
        reservation: {
          orderId: reservation.orderId,
          status: RESERVATION_STATUS[reservation.status],
          lines: reservation.lines,
          reason: reservation.reason,
          createTime: timestampFromDate(reservation.createdAt),
          updateTime: timestampFromDate(reservation.updatedAt),
        },
      };
    },
  });
}
