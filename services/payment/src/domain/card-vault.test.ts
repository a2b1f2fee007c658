import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cardNumberProblem, lastFour, newCardToken, openCard, parseCardKey, sealCard } from "./card-vault.ts";

const CARD = "4242424242424242";

describe("card numbers", () => {
  it("takes 16 digits that pass the Luhn check, including the simulated provider's test cards", () => {
    for (const card of [CARD, "4000000000000002", "4000000000009995", "4000000000000119", "5105105105105100"])
      expect(cardNumberProblem(card)).toBeUndefined();
  });

  it("says what is wrong without repeating the number", () => {
    expect(cardNumberProblem("424242424242")).toBe("card_number must be 16 digits");
    expect(cardNumberProblem("4242 4242 4242 4242")).toBe("card_number must be 16 digits");
    expect(cardNumberProblem("4242424242424241")).toBe("card_number fails the Luhn check (a mistyped digit?)");
  });

  it("keeps the last four digits", () => {
    expect(lastFour(CARD)).toBe("4242");
  });
});

describe("card tokens", () => {
  it("are random, not derived from the card", () => {
    const tokens = new Set(Array.from({ length: 100 }, newCardToken));
    expect(tokens.size).toBe(100);
    for (const token of tokens) {
      expect(token).toMatch(/^card_[\w-]{32}$/);
      expect(token).not.toContain("4242");
    }
  });
});

describe("sealed cards", () => {
  const key = randomBytes(32);
  const token = newCardToken();

  it("open with the key and token they were sealed with", () => {
    const sealed = sealCard(key, token, CARD);
    expect(sealed.toString("latin1")).not.toContain(CARD);
    expect(sealed.toString("hex")).not.toContain(Buffer.from(CARD).toString("hex"));
    expect(openCard(key, token, sealed)).toBe(CARD);
  });

  it("seal the same card differently each time (a fresh IV)", () => {
    expect(sealCard(key, token, CARD).equals(sealCard(key, token, CARD))).toBe(false);
  });

  it("do not open with another key, under another token, or when altered", () => {
    const sealed = sealCard(key, token, CARD);
    expect(openCard(randomBytes(32), token, sealed)).toBeUndefined();
    expect(openCard(key, newCardToken(), sealed)).toBeUndefined();
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] = (altered.at(-1) ?? 0) ^ 1;
    expect(openCard(key, token, altered)).toBeUndefined();
    expect(openCard(key, token, Buffer.alloc(10))).toBeUndefined();
  });
});

describe("the card key", () => {
  it("is 32 bytes in base64", () => {
    const key = randomBytes(32);
    expect(parseCardKey(key.toString("base64")).equals(key)).toBe(true);
  });

  it("is refused otherwise, without repeating it", () => {
    const short = randomBytes(16).toString("base64");
    expect(() => parseCardKey(short)).toThrow("the card key must be 32 bytes in base64 (openssl rand -base64 32)");
    expect(() => parseCardKey("not base64!")).toThrow(/32 bytes in base64/);
  });
});
