import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { NATS_INSTALL_HINT, startNatsCluster, startNatsServer } from "./nats-server.ts";
import { isAlive } from "./process-exit.ts";

const dirs: string[] = [];
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), "mesh-nats-test-"));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("startNatsServer", () => {
  it("runs a private JetStream server on a free port and leaves no process behind", async () => {
    const server = await startNatsServer({ dataDir: await tempDir() });
    expect(server.port).not.toBe(4222);
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "PROBE", subjects: ["probe.>"] });
    const ack = await jetstream(nc).publish("probe.one", "hello", { msgID: "m-1" });
    const duplicate = await jetstream(nc).publish("probe.one", "hello", { msgID: "m-1" });
    expect(ack.seq).toBe(1);
    expect(duplicate.duplicate).toBe(true);
    await nc.close();
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
  });

  it("restarts on the same port with its JetStream data", async () => {
    const dataDir = await tempDir();
    const first = await startNatsServer({ dataDir });
    let nc = await connect({ servers: first.url });
    await (await jetstreamManager(nc)).streams.add({ name: "KEEP", subjects: ["keep.>"] });
    await jetstream(nc).publish("keep.a", "1");
    await nc.close();
    await first.stop();

    const second = await startNatsServer({ dataDir, port: first.port });
    nc = await connect({ servers: second.url });
    const info = await (await jetstreamManager(nc)).streams.info("KEEP");
    expect(second.port).toBe(first.port);
    expect(info.state.messages).toBe(1);
    await nc.close();
    await second.stop();
  });

  it("says how to install nats-server when it is missing", async () => {
    const saved = process.env.NATS_SERVER_BIN;
    process.env.NATS_SERVER_BIN = "/nonexistent/nats-server";
    try {
      const failure = startNatsServer({ dataDir: await tempDir() });
      await expect(failure).rejects.toThrow(NATS_INSTALL_HINT);
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER_BIN;
      else process.env.NATS_SERVER_BIN = saved;
    }
    expect(NATS_INSTALL_HINT).toMatch(/^nats-server not found: install it with `sudo apt-get install nats-server`/);
  });
});

describe("startNatsCluster", () => {
  it("runs three JetStream nodes as one cluster that keeps an R3 stream through losing its leader", async () => {
    const cluster = await startNatsCluster({ dataDir: await tempDir(), nodes: 3 });
    try {
      expect(cluster.nodes.map((each) => each.name)).toEqual(["mesh-1", "mesh-2", "mesh-3"]);
      expect(cluster.nodes.map((each) => each.port)).not.toContain(4222);
      expect(cluster.url.split(",")).toEqual(cluster.nodes.map((each) => each.url));
      const nc = await connect({ servers: cluster.url.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const jsm = await jetstreamManager(nc);
      const stream = await jsm.streams.add({ name: "CLUSTERED", subjects: ["clustered.>"], num_replicas: 3 });
      expect(stream.cluster?.replicas).toHaveLength(2);
      const js = jetstream(nc, { timeout: 5000 });
      await js.publish("clustered.one", "before");

      const leader = cluster.node((await jsm.streams.info("CLUSTERED")).cluster?.leader as string);
      const killedPid = leader.pid;
      await leader.kill();
      expect(isAlive(killedPid)).toBe(false);
      expect(leader.running).toBe(false);
      await publishUntilAcked(() => js.publish("clustered.two", "while one node is down", { msgID: "two" }));

      const portBefore = leader.port;
      await leader.restart();
      expect(leader.running).toBe(true);
      expect(leader.port).toBe(portBefore);
      await cluster.waitForMetaLeader();
      // The stream's leader may answer before the restarted node has caught up: both messages, once it has.
      expect(await eventually(async () => (await jsm.streams.info("CLUSTERED")).state.messages, 2)).toBe(2);
      await nc.close();
    } finally {
      await cluster.stop();
    }
    for (const each of cluster.nodes) expect(each.running).toBe(false);
  }, 90_000);
});

/**
 * Publishes until JetStream acks: while the stream elects a new leader (4 to 9 s, randomised, after losing one), a
 * publish may time out or find no responders. Up to 20 s: 30 quick tries were not always enough.
 */
async function publishUntilAcked(publish: () => Promise<unknown>) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await publish();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/** Reads a value until it equals `wanted` (10 s at most); the last value read. */
async function eventually<T>(read: () => Promise<T>, wanted: T): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value === wanted || Date.now() > deadline) return value as T;
    await sleep(200);
  }
}
