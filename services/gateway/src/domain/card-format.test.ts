import { describe, expect, it } from "vitest";
import { cardFormatProblem } from "./card-format.ts";

describe("the gateway's card pre-check", () => {
  it("passes 16 digits on to payment", () => {
    expect(cardFormatProblem("4242424242424242")).toBeUndefined();
  });

  it("names the problem, never the number", () => {
    expect(cardFormatProblem("")).toBe("card_number is required");
    expect(cardFormatProblem("4242-4242-4242-4242")).toBe("card_number must be 16 digits");
    expect(cardFormatProblem("42424242424242421")).toBe("card_number must be 16 digits");
  });
});
