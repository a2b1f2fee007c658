import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";

/** How long each pull waits on the server, which sends a heartbeat every half of it while it has nothing to deliver. */
const PULL_EXPIRES_MS = 3000;
/** Waiting this long for a message with no heartbeat either (three missed) means no pull is waiting any more. */
const SILENCE_MS = 3 * (PULL_EXPIRES_MS / 2);
const WATCH_INTERVAL_MS = 500;

export interface PulledMessages extends AsyncIterable<JsMsg> {
  /** Stops pulling; messages already delivered may still be settled. */
  close(): Promise<void>;
}

/**
 * A pull consumer's messages that keep coming when a JetStream cluster node dies. The pull waiting at the consumer's
 * leader dies with that node. nats.js notices (missed heartbeats, or its reconnect), but before pulling again it looks
 * the consumer up; while the new leader is being elected that look-up waits out the request timeout and then backs
 * off, and after a reconnect nothing watches the heartbeats until a look-up succeeds: consuming stalled up to 17 s
 * in the cluster drill. So when neither a message nor a heartbeat comes for SILENCE_MS while we wait for one, this
 * consumes afresh, which pulls at once (and again after SILENCE_MS until a leader answers). A delivery that arrives
 * just as the old consume stops is redelivered after the consumer's ack wait: late, never lost.
 */
export function pullMessages(consumer: Consumer, maxMessages: number, onStalled: () => void): PulledMessages {
  let current: ConsumerMessages | undefined;
  let closed = false;
  async function* messages(): AsyncGenerator<JsMsg> {
    for (;;) {
      const batch = await consumer.consume({ max_messages: maxMessages, expires: PULL_EXPIRES_MS });
      current = batch;
      if (closed) return await batch.close();
      const stalled = yield* untilStalled(batch);
      // Ended any other way (closed, or by nats.js for good): end as a plain consume() would.
      if (!stalled || closed) return;
      onStalled();
    }
  }
  return {
    [Symbol.asyncIterator]: messages,
    async close() {
      closed = true;
      await current?.close();
    },
  };
}

/** The batch's messages until it ends; returns true when it was stopped for silence while waiting for a message. */
async function* untilStalled(batch: ConsumerMessages): AsyncGenerator<JsMsg, boolean> {
  let waitingSince: number | undefined;
  let stalled = false;
  let lastTick = Date.now();
  const watchdog = setInterval(() => {
    const now = Date.now();
    const late = now - lastTick > 2 * WATCH_INTERVAL_MS;
    lastTick = now;
    if (waitingSince === undefined) return;
    // A process too busy to run this on time may not have read what arrived meanwhile either: stopping now would drop
    // deliveries (redelivered only after the ack wait), so silence counts from here.
    if (late) waitingSince = now;
    else if (now - waitingSince > SILENCE_MS) {
      stalled = true;
      batch.stop();
    }
  }, WATCH_INTERVAL_MS);
  void (async () => {
    for await (const notification of batch.status())
      if (notification.type === "heartbeat" && waitingSince !== undefined) waitingSince = Date.now();
  })();
  try {
    const iterator = batch[Symbol.asyncIterator]();
    for (;;) {
      // Only time spent waiting counts: while the consumer is busy applying events, nothing is asked of the server.
      waitingSince = Date.now();
      const next = await iterator.next();
      waitingSince = undefined;
      if (next.done) return stalled;
      yield next.value;
    }
  } finally {
    clearInterval(watchdog);
  }
}
