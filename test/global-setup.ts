import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startNatsServer, startPostgres } from "@mesh/embedded";
import { SHOP, serviceBundle } from "@mesh/local";
import type { TestProject } from "vitest/node";

export const SERVICE_DATABASES = ["order", "inventory", "payment"] as const;

declare module "vitest" {
  export interface ProvidedContext {
    /** The private nats-server (JetStream) of this test run. */
    natsUrl: string;
    /** Connection URLs of this run's private PostgreSQL, one database per service. */
    databaseUrls: Record<(typeof SERVICE_DATABASES)[number], string>;
  }
}

const ROOT = resolve(import.meta.dirname, "..");

/** Meshes in tests run every service from its build: rebuilt here when older than the sources under test. */
async function buildServicesWhenStale() {
  const current = await Promise.all(SHOP.map((plan) => serviceBundle(ROOT, plan.service).then(Boolean, () => false)));
  if (current.every(Boolean)) return;
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
}

/**
 * Starts one private NATS and one private PostgreSQL for the whole run, on free ports, and stops them after; brings
 * the services' builds up to date first.
 */
export default async function setup(project: TestProject) {
  await buildServicesWhenStale();
  const root = await mkdtemp(join(tmpdir(), "mesh-test-"));
  // PostgreSQL runs as its own user when the tests run as root; it must be able to reach its data directory.
  await chmod(root, 0o755);
  const nats = await startNatsServer({ dataDir: join(root, "nats") });
  const postgres = await startPostgres({ dataDir: join(root, "postgres"), databases: SERVICE_DATABASES }).catch(
    async (error: unknown) => {
      await nats.stop();
      throw error;
    },
  );
  project.provide("natsUrl", nats.url);
  project.provide(
    "databaseUrls",
    Object.fromEntries(SERVICE_DATABASES.map((name) => [name, postgres.url(name)])) as Record<
      (typeof SERVICE_DATABASES)[number],
      string
    >,
  );
  return async () => {
    await Promise.allSettled([nats.stop(), postgres.stop()]);
    await rm(root, { recursive: true, force: true });
  };
}
