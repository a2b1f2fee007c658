import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startPostgres } from "./postgres.ts";
import { isAlive } from "./process-exit.ts";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("startPostgres", () => {
  it("runs a private PostgreSQL with one database per service, then stops it completely", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "mesh-pg-test-"));
    dirs.push(dataDir);
    await chmod(dataDir, 0o755);
    const server = await startPostgres({ dataDir, databases: ["order", "inventory"] });
    expect(server.port).not.toBe(5432);
    await query(server.url("order"), "create table orders (id int primary key)");
    const inventoryTables = await query(
      server.url("inventory"),
      "select tablename from pg_tables where schemaname = 'public'",
    );
    expect(inventoryTables).toEqual([]);
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);

    // A second start reuses the cluster and its data.
    const again = await startPostgres({ dataDir, databases: ["order", "inventory", "payment"] });
    const orderTables = await query(again.url("order"), "select tablename from pg_tables where schemaname = 'public'");
    expect(orderTables).toEqual([{ tablename: "orders" }]);
    expect(await query(again.url("payment"), "select 1 as ok")).toEqual([{ ok: 1 }]);
    await again.stop();
    expect(isAlive(again.pid)).toBe(false);
  }, 60_000);
});
