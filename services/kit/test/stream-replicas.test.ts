import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningNatsCluster, startNatsCluster } from "@mesh/embedded";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type EventStreams, ensureStreams, inCluster } from "../src/index.ts";

// How many replicas ensureStreams gives the streams: R1 on one server, R3 on a cluster of three, an explicit count
// over both; on real nats-servers (the suite's one, and a three-node cluster of this file's own).
const streams = (prefix: string): EventStreams => ({
  events: { name: `${prefix}_EVENTS`, subjects: [`${prefix.toLowerCase()}.>`] },
  deadLetters: { name: `${prefix}_DLQ`, subjects: [`dlq.${prefix.toLowerCase()}.>`] },
  duplicateWindowMs: 1000,
});

const replicasOf = async (jsm: JetStreamManager, stream: string) =>
  (await jsm.streams.info(stream)).config.num_replicas;

describe("ensureStreams on one server", () => {
  it("sees no cluster and keeps one replica", async () => {
    const nc = await connect({ servers: inject("natsUrl") });
    try {
      const jsm = await jetstreamManager(nc);
      expect(inCluster(nc.info)).toBe(false);
      await ensureStreams(jsm, streams("KIT_R1"), { clustered: inCluster(nc.info) });
      expect(await replicasOf(jsm, "KIT_R1_EVENTS")).toBe(1);
      expect(await replicasOf(jsm, "KIT_R1_DLQ")).toBe(1);
    } finally {
      await nc.close();
    }
  });
});

describe("ensureStreams where JetStream has fewer servers than three", () => {
  it("takes as many replicas as the server allows when it aims for three", async () => {
    const nc = await connect({ servers: inject("natsUrl") });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, streams("KIT_FEWER"), { clustered: true });
      expect(await replicasOf(jsm, "KIT_FEWER_EVENTS")).toBe(1);
      // An explicit count is not bargained down: the server's refusal is the error.
      await expect(ensureStreams(jsm, streams("KIT_EXPLICIT"), { explicit: 3, clustered: false })).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });
});

describe("ensureStreams on a three-node cluster", () => {
  let dataDir: string;
  let cluster: RunningNatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "kit-replicas-"));
    cluster = await startNatsCluster({ dataDir, nodes: 3 });
    // One server given: the client learns the others from the cluster.
    nc = await connect({ servers: cluster.nodes[0]?.url });
    jsm = await jetstreamManager(nc);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("sees the cluster and gives new streams three replicas", async () => {
    expect(inCluster(nc.info)).toBe(true);
    await ensureStreams(jsm, streams("KIT_R3"), { clustered: inCluster(nc.info) });
    expect(await replicasOf(jsm, "KIT_R3_EVENTS")).toBe(3);
    expect(await replicasOf(jsm, "KIT_R3_DLQ")).toBe(3);
  });

  it("creates a stream with the explicit count, raises it to R3 later, and never lowers it by a count it derived", async () => {
    await ensureStreams(jsm, streams("KIT_GROW"), { explicit: 1, clustered: true });
    expect(await replicasOf(jsm, "KIT_GROW_EVENTS")).toBe(1);
    await ensureStreams(jsm, streams("KIT_GROW"), { clustered: true });
    expect(await replicasOf(jsm, "KIT_GROW_EVENTS")).toBe(3);
    // A service that starts while two nodes are out of its sight must not take the copies away.
    await ensureStreams(jsm, streams("KIT_GROW"), { clustered: false });
    expect(await replicasOf(jsm, "KIT_GROW_EVENTS")).toBe(3);
  }, 30_000);
});
