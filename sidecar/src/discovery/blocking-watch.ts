import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";

export interface BlockingResult<T> {
  value: T;
  index: number;
  headers?: Headers;
}

/** How a Consul watch blocks (`wait`) and paces itself; shared by every watch a sidecar runs. */
export interface ConsulWatchOptions {
  waitMs: number;
  /** At most one request per this interval while the index does not move. */
  minIntervalMs: number;
  log: Logger;
}

export interface BlockingWatchOptions {
  /** What is watched, for log lines (`upstream inventory`, `leaf certificate`...). */
  what: string;
  /** At most one request per this interval while the index does not move (guards against storms). */
  minIntervalMs: number;
  log: Logger;
  /** Told of each failed request; the last good value stays in use meanwhile. */
  onError?: (error: Error) => void;
}

/**
 * Runs a Consul blocking query in a loop (consul-api-subset §2): each answer goes to onValue, the next request
 * waits on its index; an index that goes backwards resets the watch; failures back off and keep the last value.
 * Returns a stop function.
 */
export function watchBlocking<T>(
  fetchAt: (index: number, signal: AbortSignal) => Promise<BlockingResult<T>>,
  onValue: (value: T, result: BlockingResult<T>) => void,
  options: BlockingWatchOptions,
): () => void {
  const stop = new AbortController();
  loop(fetchAt, onValue, options, stop.signal).catch((error: unknown) =>
    options.log.error({ err: error, watch: options.what }, "consul watch stopped unexpectedly"),
  );
  return () => stop.abort();
}

async function loop<T>(
  fetchAt: (index: number, signal: AbortSignal) => Promise<BlockingResult<T>>,
  onValue: (value: T, result: BlockingResult<T>) => void,
  { what, minIntervalMs, log, onError }: BlockingWatchOptions,
  signal: AbortSignal,
) {
  let index = 0;
  let failures = 0;
  while (!signal.aborted) {
    const started = Date.now();
    try {
      const result = await fetchAt(index, signal);
      if (failures > 0) log.info({ watch: what }, "consul reachable again");
      failures = 0;
      index = result.index < index || result.index < 1 ? 0 : result.index;
      onValue(result.value, result);
      const elapsed = Date.now() - started;
      if (elapsed < minIntervalMs) await sleep(minIntervalMs - elapsed, undefined, { signal });
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      onError?.(error as Error);
      if (failures === 1)
        log.warn({ watch: what, err: (error as Error).message }, "consul watch failed; keeping the last known value");
      await sleep(Math.min(10_000, 250 * 2 ** Math.min(failures, 6)), undefined, { signal }).catch(() => undefined);
    }
  }
}
