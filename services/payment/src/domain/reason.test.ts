import { describe, expect, it } from "vitest";
import { boundReason, REASON_MAX_CHARS } from "./reason.ts";

describe("boundReason", () => {
  it("keeps a short reason whole", () => {
    expect(boundReason("payment gateway error: ", "card_number must be 16 digits")).toBe(
      "payment gateway error: card_number must be 16 digits",
    );
  });

  it("cuts long free text after the prefix, with an ellipsis, to the column's length", () => {
    const reason = boundReason("order cancelled before payment: ", "x".repeat(2000));
    expect(reason.startsWith("order cancelled before payment: xxx")).toBe(true);
    expect(reason.endsWith("x…")).toBe(true);
    expect(Array.from(reason)).toHaveLength(REASON_MAX_CHARS);
  });

  it("counts characters as the database does, and never splits one", () => {
    const fits = "😀".repeat(REASON_MAX_CHARS - 4); // more UTF-16 units than the column's length, fewer characters
    expect(boundReason("ok: ", fits)).toBe(`ok: ${fits}`);
    const cut = boundReason("ok: ", "😀".repeat(REASON_MAX_CHARS));
    expect(Array.from(cut)).toHaveLength(REASON_MAX_CHARS);
    expect(cut.endsWith("😀…")).toBe(true);
  });
});
