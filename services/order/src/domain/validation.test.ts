import { describe, expect, it } from "vitest";
import { orderRequestProblems } from "./validation.ts";

describe("CreateOrder validation", () => {
  const valid = {
    requestId: "r1",
    customerId: "c1",
    lines: [{ productId: "sku-mug", quantity: 2 }],
    cardNumber: "4242424242424242",
    currency: "USD",
  };

  it("accepts a well-formed request", () => {
    expect(orderRequestProblems(valid)).toEqual([]);
  });

  it("names every bad field and its value", () => {
    expect(
      orderRequestProblems({
        requestId: "",
        customerId: "",
        lines: [
          { productId: "a", quantity: 0 },
          { productId: "a", quantity: 2 },
        ],
        cardNumber: "12",
        currency: "usd",
      }),
    ).toEqual([
      "request_id is required (a client-chosen key, for example a UUID)",
      "customer_id is required",
      "lines[0].quantity must be 1-1000, got 0",
      'lines[1].product_id "a" appears twice',
      "card_number must be 16 digits",
      'currency must be an ISO 4217 code such as USD, got "usd"',
    ]);
  });
});
