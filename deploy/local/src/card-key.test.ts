import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { paymentCardKey } from "./card-key.ts";

it("makes payment's card key once, owner-only, and gives every instance and restart the same", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mesh-card-key-test-"));
  try {
    const key = await paymentCardKey(dir);
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(await paymentCardKey(dir)).toBe(key);
    expect((await stat(join(dir, "payment-card.key"))).mode & 0o777).toBe(0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
