import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The key payment seals card numbers with, made once and kept in the data directory (owner-only): every payment
 * instance and every restart must share it, or a card tokenized by one could not be charged by another.
 */
export async function paymentCardKey(dataDir: string): Promise<string> {
  const path = join(dataDir, "payment-card.key");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    const key = randomBytes(32).toString("base64");
    await writeFile(path, `${key}\n`, { mode: 0o600 });
    return key;
  }
}
