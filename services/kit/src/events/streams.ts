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
  /** The servers of the cluster the connection is on (1 for a lone server): the count when none is explicit. */
  servers: number;
}

/** The servers a connection's INFO tells of: its cluster's client URLs (gossiped by the server), else just its own. */
export function clusterServers(info: { cluster?: string; connect_urls?: string[] } | undefined): number {
  if (!info?.cluster) return 1;
  return Math.max(1, new Set(info.connect_urls ?? []).size);
}

/**
 * The replicas a stream gets: the explicit count, else three on a cluster of three or more (JetStream's usual R3:
 * any one node may fail) and one per server below that. Without an explicit count an existing stream keeps more
 * replicas than that: a node that happens to be down while a service starts must not cost the stream its copies.
 */
function replicasOf(replicas: StreamReplicas, existing: number | undefined): number {
  if (replicas.explicit !== undefined) return replicas.explicit;
  return Math.max(Math.min(3, replicas.servers), existing ?? 1);
}

/**
 * Creates the streams, or updates their subjects, window and replicas when they exist (safe to run from every
 * instance; nats-server moves an existing stream from R1 to R3 in place).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  streams: EventStreams,
  replicas: StreamReplicas = { servers: 1 },
): Promise<void> {
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
      await jsm.streams.add({ ...config, num_replicas: replicasOf(replicas, undefined) });
      continue;
    }
    const wanted = { ...config, num_replicas: replicasOf(replicas, existing.num_replicas) };
    if (!sameStream(existing, wanted)) await jsm.streams.update(stream.name, wanted);
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
