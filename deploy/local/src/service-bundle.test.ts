import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serviceBundle } from "./service-bundle.ts";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "service-bundle-"));
  await mkdir(join(root, "services/shop/src"), { recursive: true });
  await mkdir(join(root, "services/shop/dist"));
  await writeFile(join(root, "services/shop/src/main.ts"), "");
});

afterEach(() => rm(root, { recursive: true, force: true }));

/** A build of services/shop/src/main.ts, made `age` seconds after the source was last written. */
async function built(age: number) {
  const inputs = join(root, "services/shop/dist/inputs.json");
  await writeFile(inputs, JSON.stringify(["services/shop/src/main.ts"]));
  const source = new Date(Date.now() - 60_000);
  await utimes(join(root, "services/shop/src/main.ts"), source, source);
  const build = new Date(source.getTime() + age * 1000);
  await utimes(inputs, build, build);
}

describe("serviceBundle", () => {
  it("gives the build of a service whose sources have not changed since", async () => {
    await built(1);
    await expect(serviceBundle(root, "shop")).resolves.toBe(join(root, "services/shop/dist/main.mjs"));
  });

  it("refuses a build older than one of its sources, naming the source and the command that builds", async () => {
    await built(-1);
    await expect(serviceBundle(root, "shop")).rejects.toThrow(
      "services/shop/dist is older than services/shop/src/main.ts; build it with: npm run build",
    );
  });

  it("refuses a missing build, saying how to make it", async () => {
    await expect(serviceBundle(root, "shop")).rejects.toThrow(
      "services/shop/dist/main.mjs is missing; build it with: npm run build",
    );
  });
});
