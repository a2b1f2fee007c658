import { describe, expect, it } from "vitest";
import { boundedReason, REASON_MAX_CHARS } from "./reason.ts";

describe("boundedReason", () => {
  it("keeps a reason that fits", () => {
    expect(boundedReason("payment failed: card_declined")).toBe("payment failed: card_declined");
    expect(boundedReason("x".repeat(REASON_MAX_CHARS))).toBe("x".repeat(REASON_MAX_CHARS));
  });

  it("cuts a longer one to the column's length, ending in an ellipsis", () => {
    const bounded = boundedReason(`cancelled before reservation: ${"x".repeat(REASON_MAX_CHARS)}`);
    expect(Array.from(bounded)).toHaveLength(REASON_MAX_CHARS);
    expect(bounded.startsWith("cancelled before reservation: x")).toBe(true);
    expect(bounded.endsWith("…")).toBe(true);
  });

  it("counts characters as the database does, never splitting one", () => {
    const emoji = "🥐".repeat(REASON_MAX_CHARS); // two UTF-16 units each, one character in the column
    expect(boundedReason(emoji)).toBe(emoji);
    const cut = boundedReason(`${emoji}🥐`);
    expect(Array.from(cut)).toHaveLength(REASON_MAX_CHARS);
    expect(cut).toBe(`${"🥐".repeat(REASON_MAX_CHARS - 1)}…`);
  });
});
