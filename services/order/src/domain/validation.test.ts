import { describe, expect, it } from "vitest";
import { orderRequestProblems } from "./validation.ts";

describe("CreateOrder validation", () => {
  const valid = {
    requestId: "r1",
    customerId: "c1",
    lines: [{ productId: "sku-mug", quantity: 2 }],
    cardToken: "card_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    cardLast4: "4242",
    currency: "USD",
  };

  it("accepts a well-formed request", () => {
    expect(orderRequestProblems(valid)).toEqual([]);
  });

  it("names every bad field and its value, except card fields, whose values are never echoed", () => {
    expect(
      orderRequestProblems({
        requestId: "",
        customerId: "",
        lines: [
          { productId: "a", quantity: 0 },
          { productId: "a", quantity: 2 },
        ],
        cardToken: "4242424242424242",
        cardLast4: "4242424242424242",
        currency: "usd",
      }),
    ).toEqual([
      "request_id is required (a client-chosen key, for example a UUID)",
      "customer_id is required",
      "lines[0].quantity must be 1-1000, got 0",
      'lines[1].product_id "a" appears twice',
      'card_token must be a token from PaymentService.TokenizeCard ("card_" and 32 characters)',
      "card_last4 must be the card's last 4 digits",
      'currency must be an ISO 4217 code such as USD, got "usd"',
    ]);
  });
});
