import { type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";

export interface EventStreams {
  /** The stream of domain events, for example SHOP_EVENTS on shop.> */
  events: { name: string; subjects: string[] };
  /** Where consumers put what they gave up on, for example SHOP_DEAD_LETTERS on dlq.shop.> */
  deadLetters: { name: string; subjects: string[] };
  /** JetStream drops a second publish with the same msgID within this window. */
  duplicateWindowMs: number;
}

export const SHOP_STREAMS: EventStreams = {
  events: { name: "SHOP_EVENTS", subjects: ["shop.>"] },
  deadLetters: { name: "SHOP_DEAD_LETTERS", subjects: ["dlq.shop.>"] },
  duplicateWindowMs: 2 * 60_000,
};

/** The dead-letter subject of an event subject: `dlq.` in front. */
export function deadLetterSubject(subject: string): string {
  return `dlq.${subject}`;
}

/** How many copies of each stream JetStream keeps (num_replicas), and where that number comes from. */
export interface StreamReplicas {
  /** NATS_STREAM_REPLICAS: when set, streams are created and updated with exactly this many replicas. */
  explicit?: number;
  /** Whether the connection's server belongs to a cluster: then streams aim for three replicas. */
  clustered: boolean;
}

/**
 * Whether a connection's server belongs to a cluster (its INFO names one). The cluster's size is not read from the
 * INFO: the other members' URLs arrive by gossip, some of them only after the connection is made; JetStream itself
 * says when a cluster has too few servers for a stream's replicas (see ensureStreams).
 */
export function inCluster(info: { cluster?: string } | undefined): boolean {
  return Boolean(info?.cluster);
}

/**
 * The replicas a stream aims for: the explicit count, else three on a cluster (JetStream's usual R3: any one node
 * may fail) and one on a lone server. Without an explicit count an existing stream keeps more replicas than that.
 */
function replicasOf(replicas: StreamReplicas, existing: number | undefined): number {
  if (replicas.explicit !== undefined) return replicas.explicit;
  return Math.max(replicas.clustered ? 3 : 1, existing ?? 1);
}

/** JetStream's answer to a stream asking for more replicas than the cluster has servers (or any on a lone one). */
const TOO_FEW_SERVERS = /insufficient resources|not supported in non-clustered mode/i;

/**
 * Applies a stream config with `wanted` replicas; when no count is explicit and the cluster has too few servers
 * (smaller than three, or a node down while the service starts), with one fewer, down to `floor`: a later start
 * raises the count again.
 */
async function withReplicas(
  apply: (replicas: number) => Promise<unknown>,
  wanted: number,
  floor: number,
  explicit: boolean,
): Promise<void> {
  for (let replicas = wanted; ; replicas--) {
    try {
      await apply(replicas);
      return;
    } catch (error) {
      if (explicit || replicas <= floor || !TOO_FEW_SERVERS.test((error as Error).message)) throw error;
    }
  }
}

/**
 * Creates the streams, or updates their subjects, window and replicas when they exist (safe to run from every
 * instance; nats-server moves an existing stream from R1 to R3 in place).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  streams: EventStreams,
  replicas: StreamReplicas = { clustered: false },
): Promise<void> {
  const explicit = replicas.explicit !== undefined;
  for (const stream of [streams.events, streams.deadLetters]) {
    const config = {
      name: stream.name,
      subjects: stream.subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: streams.duplicateWindowMs * 1_000_000,
    };
    let existing: StreamConfig;
    try {
      existing = (await jsm.streams.info(stream.name)).config;
    } catch (error) {
      if (!/stream not found/i.test((error as Error).message)) throw error;
      const add = (num_replicas: number) => jsm.streams.add({ ...config, num_replicas });
      await withReplicas(add, replicasOf(replicas, undefined), 1, explicit);
      continue;
    }
    const wanted = { ...config, num_replicas: replicasOf(replicas, existing.num_replicas) };
    if (sameStream(existing, wanted)) continue;
    const update = (num_replicas: number) => jsm.streams.update(stream.name, { ...config, num_replicas });
    await withReplicas(update, wanted.num_replicas, existing.num_replicas, explicit);
  }
}

/**
 * Whether a stream already has what ensureStreams would set: then it sends no update, which every instance's start
 * would otherwise send, and which a cluster still moving the stream to new replicas may be slow to answer.
 */
function sameStream(
  existing: StreamConfig,
  wanted: Pick<StreamConfig, "subjects" | "duplicate_window" | "num_replicas">,
) {
  return (
    existing.num_replicas === wanted.num_replicas &&
    existing.duplicate_window === wanted.duplicate_window &&
    existing.subjects.length === wanted.subjects.length &&
    existing.subjects.every((subject, index) => subject === wanted.subjects[index])
  );
}
