import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChargeOutcome, PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningProvider, startProvider } from "../index.ts";

// The simulated gateway over gRPC, as payment's sidecar calls it.

let provider: RunningProvider;
let gateway: ReturnType<typeof createClient<typeof PaymentProviderService>>;
const amount = { amountMinor: 899n, currency: "USD" };
const charge = (idempotencyKey: string, cardNumber = "4242424242424242") =>
  gateway.charge({ idempotencyKey, cardNumber, amount, description: "test" });

beforeAll(async () => {
  provider = await startProvider({
    host: "127.0.0.1",
    port: 0,
    behaviour: { latencyMs: 0, failureRate: 0 },
    log: pino({ level: "silent" }),
  });
  gateway = createClient(PaymentProviderService, createGrpcTransport({ baseUrl: `http://${provider.address}` }));
});

afterAll(async () => {
  await provider?.shutdown(100);
});

describe("SettleCharge", () => {
  it("reports the charge made with a key: its id, outcome and amount", async () => {
    const captured = await charge("settle-captured");
    expect(await gateway.settleCharge({ idempotencyKey: "settle-captured" })).toMatchObject({
      found: true,
      chargeId: captured.chargeId,
      outcome: ChargeOutcome.CAPTURED,
      amount,
    });
    await charge("settle-declined", "4000000000000002");
    expect(await gateway.settleCharge({ idempotencyKey: "settle-declined" })).toMatchObject({
      found: true,
      outcome: ChargeOutcome.DECLINED,
      declineCode: "card_declined",
    });
  });

  it("voids a key no charge was made with: a later charge with it takes nothing", async () => {
    expect((await gateway.settleCharge({ idempotencyKey: "settle-void" })).found).toBe(false);
    await expect(charge("settle-void")).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.FailedPrecondition && error.rawMessage === "idempotency key voided",
    );
    expect((await gateway.settleCharge({ idempotencyKey: "settle-void" })).found).toBe(false);
    expect(provider.ledger().some((entry) => entry.idempotencyKey === "settle-void")).toBe(false);
  });
});

describe("answerLateMs", () => {
  it("captures, then answers after the caller stopped waiting: the capture is found by SettleCharge", async () => {
    provider.behaviour.answerLateMs = 2000;
    try {
      await expect(
        gateway.charge({ idempotencyKey: "late", cardNumber: "4242424242424242", amount }, { timeoutMs: 200 }),
      ).rejects.toSatisfy((error: ConnectError) => error.code === Code.DeadlineExceeded);
    } finally {
      provider.behaviour.answerLateMs = 0;
    }
    const settled = await gateway.settleCharge({ idempotencyKey: "late" });
    expect(settled).toMatchObject({ found: true, outcome: ChargeOutcome.CAPTURED });
    expect(provider.ledger().filter((entry) => entry.idempotencyKey === "late")).toEqual([
      { chargeId: settled.chargeId, idempotencyKey: "late", amountMinor: 899n, refunded: false, refunds: 0 },
    ]);
  });
});

describe("RefundCharge", () => {
  it("refunds a charge once: the same key again returns that refund, another key is refused", async () => {
    const { chargeId } = await charge("refund-once");
    const first = await gateway.refundCharge({ idempotencyKey: "refund-a", chargeId });
    expect(await gateway.refundCharge({ idempotencyKey: "refund-a", chargeId })).toEqual(first);
    await expect(gateway.refundCharge({ idempotencyKey: "refund-b", chargeId })).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.FailedPrecondition,
    );
    expect(provider.ledger().find((entry) => entry.chargeId === chargeId)).toMatchObject({
      refunded: true,
      refunds: 1,
    });
  });
});
