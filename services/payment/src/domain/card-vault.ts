import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

// What payment does with a card number: check it, name it by a random token, and keep it sealed (AES-256-GCM) only
// until its charge is final. Nothing here does I/O; the key comes from the caller.

const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const CARD_KEY_BYTES = 32;

/** Why a card number cannot be taken, or undefined when it can. Never contains the number itself. */
export function cardNumberProblem(cardNumber: string): string | undefined {
  if (!/^\d{16}$/.test(cardNumber)) return "card_number must be 16 digits";
  if (!passesLuhn(cardNumber)) return "card_number fails the Luhn check (a mistyped digit?)";
  return undefined;
}

/** The Luhn checksum every card number carries: from the right, every second digit doubled. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export const lastFour = (cardNumber: string) => cardNumber.slice(-4);

/** A fresh token: random, so nothing about the card can be learned from it or guessed into it. */
export function newCardToken(): string {
  return `card_${randomBytes(24).toString("base64url")}`;
}

/** The key from its base64 form (PAYMENT_CARD_KEY); the error says what is wrong without repeating the value. */
export function parseCardKey(base64: string): Buffer {
  const key = Buffer.from(base64, "base64");
  if (key.length !== CARD_KEY_BYTES || key.toString("base64") !== base64.trim())
    throw new Error(`the card key must be ${CARD_KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
  return key;
}

/**
 * Encrypts a card number for storage: IV, tag and ciphertext in one buffer. The token is authenticated data, so a
 * sealed card copied to another token's row does not open.
 */
export function sealCard(key: Buffer, token: string, cardNumber: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(token));
  const ciphertext = Buffer.concat([cipher.update(cardNumber, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/** The card number sealed for this token, or undefined when it does not open (another key, another token, altered). */
export function openCard(key: Buffer, token: string, sealed: Uint8Array): string | undefined {
  const bytes = Buffer.from(sealed);
  if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(token));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
