import { parseDuration } from "../duration.ts";
import type { AgentState } from "../state/agent-state.ts";
import { RequestError } from "./fields.ts";

export interface ConsulRequest {
  method: string;
  /** The decoded path after the route's prefix (IDs and keys may contain "/"). */
  rest: string;
  query: URLSearchParams;
  body: Buffer;
  /** Aborted when the client goes away, so a blocking query stops waiting. */
  signal: AbortSignal;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  raw?: Buffer;
  headers?: Record<string, string>;
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** A boolean query flag read like Go's strconv.ParseBool, where present-and-empty means true. */
export function flag(query: URLSearchParams, name: string, message = `Invalid value for ?${name}`): boolean {
  if (!query.has(name)) return false;
  const value = query.get(name) ?? "";
  if (value === "" || TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new RequestError(400, message);
}

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

export interface BlockingOptions {
  /** Upper bound on wait, for tests; Consul clamps at 10m. */
  maxWaitMs?: number;
}

/** Checks the query parameters every server-backed read accepts. */
export function checkCommonQuery(query: URLSearchParams, datacenter: string): void {
  if (query.has("stale") && query.has("consistent")) {
    throw new RequestError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  }
  const dc = query.get("dc");
  if (dc && dc !== datacenter) throw new RequestError(500, "No path to datacenter");
  if (query.get("filter")) {
    throw new RequestError(
      400,
      "filter expressions are not supported by consul-dev; select with tag or passing instead",
    );
  }
}

/**
 * Runs a blocking query (Consul's semantics): without `index` (or with 0) it answers at once; otherwise it waits
 * until the query's own index passes the given one, or until `wait` (default 5m, at most 10m) plus up to wait/16
 * of jitter, and then answers with the current data and index either way.
 */
export async function blockingQuery(
  request: ConsulRequest,
  state: AgentState,
  queryIndex: () => number,
  render: () => Reply,
  options: BlockingOptions = {},
): Promise<Reply> {
  const { query } = request;
  const indexParam = query.get("index");
  let index = 0;
  if (indexParam !== null && indexParam !== "") {
    if (!/^\d+$/.test(indexParam)) throw new RequestError(400, "Invalid index");
    index = Number(indexParam);
  }
  let waitMs = DEFAULT_WAIT_MS;
  const waitParam = query.get("wait");
  if (waitParam) {
    try {
      waitMs = parseDuration(waitParam) ?? DEFAULT_WAIT_MS;
    } catch {
      throw new RequestError(400, "Invalid wait time");
    }
  }
  waitMs = Math.min(waitMs, options.maxWaitMs ?? MAX_WAIT_MS);
  if (index > 0 && queryIndex() <= index) {
    await waitForIndex(state, queryIndex, index, waitMs + Math.random() * (waitMs / 16), request.signal);
  }
  const reply = render();
  return {
    ...reply,
    headers: {
      ...reply.headers,
      "X-Consul-Index": String(Math.max(1, queryIndex())),
      "X-Consul-KnownLeader": "true",
      "X-Consul-LastContact": "0",
      "X-Consul-Effective-Consistency": "leader",
    },
  };
}

function waitForIndex(state: AgentState, queryIndex: () => number, index: number, waitMs: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stopListening();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    const stopListening = state.onChange(() => {
      if (queryIndex() > index) done();
    });
    signal.addEventListener("abort", done, { once: true });
  });
}
