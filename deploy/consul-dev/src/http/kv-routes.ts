import type { AgentState } from "../state/agent-state.ts";
import type { KvEntry } from "../state/model.ts";
import { RequestError } from "./fields.ts";
import {
  type BlockingOptions,
  blockingQuery,
  type ConsulRequest,
  checkCommonQuery,
  flag,
  type Reply,
} from "./query.ts";

const MAX_VALUE_BYTES = 512 * 1024;
const KEY = /^[A-Za-z0-9_.\-/]+$/;

/** The portable key rule (consul-api-subset §7): what every Consul version accepts. */
function validateKey(key: string) {
  if (!KEY.test(key) || key.startsWith("/") || key.includes("//") || key.split("/").includes("..")) {
    throw new RequestError(
      400,
      `Invalid key name "${key}": use [A-Za-z0-9_.-/], no leading "/", no "//" or ".." segments`,
    );
  }
}

function entryView(entry: KvEntry) {
  return {
    LockIndex: 0,
    Key: entry.key,
    Flags: Number(entry.flags),
    Value: entry.value.length ? entry.value.toString("base64") : null,
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}

function casParam(query: URLSearchParams): number | undefined {
  const value = query.get("cas");
  if (value === null) return undefined;
  if (!/^\d+$/.test(value)) throw new RequestError(400, "Invalid cas index");
  return Number(value);
}

/** The KV store endpoints: reads block like every server-backed query; writes answer true or false. */
export function kvRoutes(state: AgentState, options: BlockingOptions) {
  const get = (request: ConsulRequest): Promise<Reply> => {
    const key = request.rest;
    const recurse = flag(request.query, "recurse");
    const keysOnly = request.query.has("keys");
    if (!key && !recurse && !keysOnly) throw new RequestError(400, "Missing key name");
    checkCommonQuery(request.query, state.node.datacenter);
    const prefixQuery = recurse || keysOnly;
    return blockingQuery(
      request,
      state,
      () => state.kvIndex(key, !prefixQuery),
      () => {
        const matching = [...state.kv.values()]
          .filter((entry) => (prefixQuery ? entry.key.startsWith(key) : entry.key === key))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        if (keysOnly) {
          const separator = request.query.get("separator");
          const keys = new Set(
            matching.map((entry) => {
              if (!separator) return entry.key;
              const cut = entry.key.indexOf(separator, key.length);
              return cut < 0 ? entry.key : entry.key.slice(0, cut + separator.length);
            }),
          );
          if (keys.size === 0 && key) return { status: 404 };
          return { json: [...keys] };
        }
        if (matching.length === 0) return { status: 404 };
        if (flag(request.query, "raw") && !recurse) {
          return {
            raw: (matching[0] as KvEntry).value,
            headers: { "Content-Type": "text/plain", "X-Content-Type-Options": "nosniff" },
          };
        }
        return { json: matching.map(entryView) };
      },
      options,
    );
  };

  const put = (request: ConsulRequest): Reply => {
    const key = request.rest;
    if (!key) throw new RequestError(400, "Missing key name");
    validateKey(key);
    const conflicting = ["cas", "acquire", "release"].filter((name) => request.query.has(name));
    if (conflicting.length > 1) throw new RequestError(400, `Conflicting flags: ${conflicting.join(", ")}`);
    if (request.query.has("acquire") || request.query.has("release")) {
      throw new RequestError(400, "sessions (acquire, release) are not supported by consul-dev");
    }
    if (request.body.length > MAX_VALUE_BYTES) {
      throw new RequestError(
        413,
        `Request body(${request.body.length} bytes) too large, max size: ${MAX_VALUE_BYTES} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.`,
      );
    }
    const flags = request.query.get("flags") ?? "0";
    if (!/^\d+$/.test(flags) || BigInt(flags) > 2n ** 64n - 1n) throw new RequestError(400, "Invalid flags");
    const existing = state.kv.get(key);
    const cas = casParam(request.query);
    if (cas !== undefined && (cas === 0 ? existing !== undefined : existing?.modifyIndex !== cas))
      return { json: false };
    const index = state.advance();
    state.kv.set(key, {
      key,
      value: request.body,
      flags,
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
    });
    return { json: true };
  };

  const remove = (request: ConsulRequest): Reply => {
    const key = request.rest;
    const recurse = flag(request.query, "recurse");
    const cas = casParam(request.query);
    if (recurse && cas !== undefined) throw new RequestError(400, "Conflicting flags: cas, recurse");
    if (!key && !recurse) throw new RequestError(400, "Missing key name");
    const existing = state.kv.get(key);
    if (cas !== undefined && (cas === 0 || existing?.modifyIndex !== cas)) return { json: false };
    const doomed = [...state.kv.keys()].filter((each) => (recurse ? each.startsWith(key) : each === key));
    for (const each of doomed) state.kv.delete(each);
    if (doomed.length) state.kvDeleted();
    return { json: true };
  };

  return [
    { method: "GET", prefix: "/v1/kv/", handler: get },
    { method: "PUT", prefix: "/v1/kv/", handler: put },
    { method: "DELETE", prefix: "/v1/kv/", handler: remove },
  ];
}
