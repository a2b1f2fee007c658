import type { ServiceContext } from "@mesh/kit";
import { Gauge } from "prom-client";
import { Payment } from "./db/entities.ts";

/**
 * mesh_payments_refund_failed: payments whose refund the gateway refused for good (REFUND_FAILED), each money a
 * person must settle. Counted from the database when scraped, so every instance reports the same truth.
 */
export function countRefundFailures(context: ServiceContext): void {
  new Gauge({
    name: "mesh_payments_refund_failed",
    help: "Payments whose refund the payment gateway refused for good (status REFUND_FAILED)",
    registers: [context.metrics],
    async collect() {
      this.set(await context.orm.em.fork().count(Payment, { status: "REFUND_FAILED" }));
    },
  });
}
