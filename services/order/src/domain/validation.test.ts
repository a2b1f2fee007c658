import { describe, expect, it } from "vitest";
import { cancelReasonProblem, clipped, orderRequestProblems } from "./validation.ts";

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

  it("bounds the free text it stores: ids and product ids by length, without control characters", () => {
    expect(
      orderRequestProblems({
        ...valid,
        requestId: "r".repeat(201),
        customerId: "c".repeat(201),
        lines: [
          { productId: "p".repeat(256), quantity: 1 },
          { productId: "sku-\u0000", quantity: 1 },
        ],
      }),
    ).toEqual([
      "request_id is longer than 200 characters (201)",
      "customer_id is longer than 200 characters (201)",
      "lines[0].product_id is longer than 255 characters (256)",
      "lines[1].product_id must not contain control characters",
    ]);
    expect(orderRequestProblems({ ...valid, customerId: "alice\nbob" })).toEqual([
      "customer_id must not contain control characters",
    ]);
    // Characters, not UTF-16 units: 200 emoji are 400 units, and fit.
    expect(orderRequestProblems({ ...valid, customerId: "😀".repeat(200) })).toEqual([]);
  });
});

describe("CancelOrder's reason", () => {
  it("is optional text of at most 500 characters, lines allowed, other control characters not", () => {
    expect(cancelReasonProblem("")).toBeUndefined();
    expect(cancelReasonProblem("too late\nfound it cheaper")).toBeUndefined();
    expect(cancelReasonProblem("x".repeat(500))).toBeUndefined();
    expect(cancelReasonProblem("x".repeat(501))).toBe("reason is longer than 500 characters (501)");
    expect(cancelReasonProblem("nul\u0000")).toBe("reason must not contain control characters");
  });
});

describe("text from other services", () => {
  it("is cut to fit its column, in characters and with an ellipsis", () => {
    expect(clipped("short")).toBe("short");
    expect(clipped("x".repeat(1024))).toHaveLength(1024);
    const cut = clipped("😀".repeat(1025));
    expect(Array.from(cut)).toHaveLength(1024);
    expect(cut.endsWith("😀…")).toBe(true);
  });
});
