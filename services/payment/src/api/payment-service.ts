import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { implement, isUuid, type ServiceContext, ServiceError, transaction } from "@mesh/kit";
import { PaymentService, PaymentStatus } from "@mesh/proto/shop/payment/v1/payment_pb";
import { LockMode } from "@mikro-orm/postgresql";
import { Payment } from "../db/entities.ts";
import { type PaymentStepOptions, refundOrRequest } from "../events/payment-steps.ts";
import { GATEWAY_TIMEOUT_MS, gatewayClient, type ProviderClient } from "../gateway.ts";
import { tokenizeCard } from "./tokenize-card.ts";

const STATUS = {
  PENDING: PaymentStatus.PENDING,
  CAPTURED: PaymentStatus.CAPTURED,
  DECLINED: PaymentStatus.DECLINED,
  REFUNDED: PaymentStatus.REFUNDED,
  FAILED: PaymentStatus.FAILED,
  REFUND_FAILED: PaymentStatus.REFUND_FAILED,
  REFUNDING: PaymentStatus.REFUNDING,
} as const;

export const paymentView = (payment: Payment) => ({
  paymentId: payment.paymentId,
  orderId: payment.orderId,
  amount: { amountMinor: BigInt(payment.amountMinor), currency: payment.currency },
  status: STATUS[payment.status],
  providerChargeId: payment.providerChargeId,
  failureReason: payment.failureReason,
  cardLast4: payment.cardLast4,
  createTime: timestampFromDate(payment.createdAt),
  updateTime: timestampFromDate(payment.updatedAt),
});

/** shop.payment.v1.PaymentService over the payment database. */
export function paymentService(
  context: ServiceContext,
  provider: ProviderClient,
  cardKey: Buffer,
  options: Pick<PaymentStepOptions, "gatewayTimeoutMs"> = {},
) {
  const deps = {
    gateway: gatewayClient(provider, options.gatewayTimeoutMs ?? GATEWAY_TIMEOUT_MS),
    log: context.log,
  };
  return implement(PaymentService, {
    tokenizeCard: tokenizeCard(context, cardKey),

    async getPayment(request) {
      if (!isUuid(request.paymentId))
        throw new ServiceError(status.INVALID_ARGUMENT, `payment_id must be a UUID, got "${request.paymentId}"`);
      const payment = await context.orm.em.fork().findOne(Payment, { paymentId: request.paymentId });
      if (!payment) throw new ServiceError(status.NOT_FOUND, `no payment ${request.paymentId}`);
      return { payment: paymentView(payment) };
    },

    async listPayments(request) {
      if (!request.orderId) throw new ServiceError(status.INVALID_ARGUMENT, "order_id is required");
      const payments = await context.orm.em
        .fork()
        .find(Payment, { orderId: request.orderId }, { orderBy: { createdAt: "asc" } });
      return { payments: payments.filter((payment) => payment.amountMinor > 0).map(paymentView) };
    },

    async refund(request) {
      if (!isUuid(request.paymentId))
        throw new ServiceError(status.INVALID_ARGUMENT, `payment_id must be a UUID, got "${request.paymentId}"`);
      // The row lock serializes this with the order's cancel step, which refunds the same payment: whichever comes
      // second finds it REFUNDED, so the money is returned and announced (PaymentRefunded) once.
      const { payment, refused } = await transaction(context, async (em) => {
        const payment = await em.findOne(
          Payment,
          { paymentId: request.paymentId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        if (!payment) throw new ServiceError(status.NOT_FOUND, `no payment ${request.paymentId}`);
        if (payment.status === "REFUNDED" || payment.status === "REFUNDING")
          return { payment: paymentView(payment), refused: false };
        if (payment.status !== "CAPTURED") {
          throw new ServiceError(
            status.FAILED_PRECONDITION,
            `payment ${payment.paymentId} is ${payment.status}, only CAPTURED payments can be refunded`,
          );
        }
        const outcome = await refundOrRequest(em, deps, payment, { correlationId: payment.orderId });
        return { payment: paymentView(payment), refused: outcome === "refused" };
      });
      // Committed first: the payment stays REFUND_FAILED, with the reason, for a person to settle.
      if (refused) throw new ServiceError(status.FAILED_PRECONDITION, payment.failureReason);
      return { payment };
    },
  });
}
