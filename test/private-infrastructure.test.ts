import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";

// The run's shared servers must be private ones: never the NATS or PostgreSQL that may run on standard ports.
describe("the test run's private servers", () => {
  it("provides a JetStream-enabled NATS on a port of its own", async () => {
    const url = new URL(inject("natsUrl"));
    expect(url.hostname).toBe("127.0.0.1");
    expect(url.port).not.toBe("4222");
    const nc = await connect({ servers: inject("natsUrl") });
    const account = await (await jetstreamManager(nc)).getAccountInfo();
    expect(account.streams).toBeGreaterThanOrEqual(0);
    await nc.close();
  });

  it("provides one PostgreSQL database per service on a port of its own", async () => {
    const urls = inject("databaseUrls");
    expect(Object.keys(urls).sort()).toEqual(["inventory", "order", "payment"]);
    for (const [name, url] of Object.entries(urls)) {
      expect(new URL(url).port).not.toBe("5432");
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ db: string }>("select current_database() as db");
      expect(rows[0]?.db).toBe(name);
      await client.end();
    }
  });
});
