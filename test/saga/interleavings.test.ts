import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type GatewayFault, SagaLab } from "./saga-lab.ts";
import { sagaViolations } from "./saga-violations.ts";

// Property: whatever the order of deliveries, duplicates, redeliveries, cancels, operator refunds, deadlines and
// gateway failures (refused, slow, or answering after the money was taken), the saga ends with every order decided
// (or parked with a reason), stock that matches its reservations, and no money kept for an order that is not
// confirmed. A failing case shrinks to a short plan, printed with the scheduler's order of steps.

const CARDS = { good: "4242424242424242", declined: "4000000000000002" } as const;
/** Few products with little stock, so orders compete for the same rows. */
const PRODUCTS = ["sku-kettle", "sku-grinder"] as const;
const RUNS = Number(process.env.SAGA_PROPERTY_RUNS ?? 60);

const orderPlan = fc.record({
  card: fc.constantFrom<keyof typeof CARDS>("good", "good", "declined"),
  lines: fc.uniqueArray(
    fc.record({ productId: fc.constantFrom(...PRODUCTS), quantity: fc.integer({ min: 1, max: 6 }) }),
    { minLength: 1, maxLength: 2, selector: (line) => line.productId },
  ),
  /** Whether the customer cancels, and when: at any time after placing, or once the order is decided. */
  cancel: fc.constantFrom("never", "placed", "decided"),
  operatorRefund: fc.constantFrom("never", "placed", "decided"),
  deadline: fc.boolean(),
  longReason: fc.boolean(),
});

const plan = fc.record({
  orders: fc.array(orderPlan, { minLength: 1, maxLength: 3 }),
  gatewayFaults: fc.array(fc.constantFrom<GatewayFault>("ok", "unavailable", "late", "slow"), { maxLength: 8 }),
  duplicates: fc.array(fc.boolean(), { maxLength: 16 }),
});

type Moment = "never" | "placed" | "decided";
type Plan = typeof plan extends fc.Arbitrary<infer T> ? T : never;

let lab: SagaLab;

beforeAll(async () => {
  lab = await SagaLab.start(inject("databaseUrls").order);
});

afterAll(async () => {
  await lab?.stop();
});

const call = { signal: new AbortController().signal } as never;

/** One order's life as the plan says: placed, then cancelled, refunded by an operator, or past its deadline. */
async function live(index: number, order: Plan["orders"][number], gate: (label: string) => Promise<void>) {
  const orders = lab.api.order().handlers;
  const payments = lab.api.payment().handlers;
  await gate(`place ${index}`);
  const card = (await payments.tokenizeCard?.(
    { requestId: `card-${index}`, cardNumber: CARDS[order.card] } as never,
    call,
  )) as { cardToken: string; cardLast4: string };
  const created = (await orders.createOrder?.(
    { requestId: `order-${index}`, customerId: "alice", lines: order.lines, currency: "USD", ...card } as never,
    call,
  )) as { order: { orderId: string } };
  const orderId = created.order.orderId;
  /** Waits for the scheduler, and first for the order to be decided when the plan says so. */
  const when = async (moment: Moment, label: string) => {
    if (moment === "decided") await lab.decided(orderId);
    await gate(label);
  };
  const later: Promise<unknown>[] = [];
  if (order.cancel !== "never")
    later.push(
      lab.track(
        when(order.cancel, `cancel ${index}`).then(() =>
          orders.cancelOrder?.(
            { orderId, reason: order.longReason ? "x".repeat(500) : "changed my mind" } as never,
            call,
          ),
        ),
      ),
    );
  if (order.operatorRefund !== "never")
    later.push(
      lab.track(
        when(order.operatorRefund, `operator refund ${index}`).then(async () => {
          const listed = (await payments.listPayments?.({ orderId } as never, call)) as {
            payments: { paymentId: string }[];
          };
          for (const payment of listed.payments)
            await payments.refund?.({ paymentId: payment.paymentId } as never, call);
        }),
      ),
    );
  if (order.deadline) later.push(lab.track(gate(`deadline ${index}`).then(() => lab.deadlinePassed(orderId))));
  await Promise.all(later);
}

it("no interleaving of deliveries, cancels, refunds, deadlines and gateway faults loses money or stock", async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), plan, async (scheduler, plan) => {
      let drawn = 0;
      const gate = (label: string) => scheduler.schedule(Promise.resolve(label), label).then(() => {});
      await lab.reset(
        { gate, duplicate: () => plan.duplicates[drawn++ % Math.max(plan.duplicates.length, 1)] ?? false },
        plan.gatewayFaults,
      );
      const steps = plan.orders.map((order, index) => lab.track(live(index, order, gate)));
      // Release scheduled steps one by one, in the scheduler's order, until nothing waits and nothing runs.
      while (scheduler.count() > 0 || lab.busy) {
        if (scheduler.count() > 0) await scheduler.waitOne();
        else await sleep(1);
      }
      const failedSteps = (await Promise.all(steps)).filter((step) => step instanceof Error);
      const violations = [
        ...failedSteps.map((error) => `a step failed: ${(error as Error).message}`),
        ...lab.problems,
        ...(await sagaViolations(lab)),
      ];
      expect(violations).toEqual([]);
    }),
    { numRuns: RUNS, endOnFailure: false },
  );
}, 600_000);
