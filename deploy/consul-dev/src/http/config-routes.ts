import { configEntryInput, knownKind } from "../connect/config-entry-input.ts";
import { serviceDefaultsView, serviceIntentionsView } from "../connect/config-entry-views.ts";
import type { IntentionStore } from "../connect/intentions.ts";
import type { ServiceDefaultsStore } from "../connect/service-defaults.ts";
import type { AgentState } from "../state/agent-state.ts";
import { jsonBody, RequestError } from "./fields.ts";
import { type BlockingOptions, blockingQuery, type ConsulRequest, checkCommonQuery, type Reply } from "./query.ts";

export interface ConfigContext {
  state: AgentState;
  intentions: IntentionStore;
  serviceDefaults: ServiceDefaultsStore;
  blocking: BlockingOptions;
}

/** `?cas=<index>`: undefined when absent. */
function cas(query: URLSearchParams): number | undefined {
  const value = query.get("cas");
  if (value === null || value === "") return undefined;
  if (!/^\d+$/.test(value))
    throw new RequestError(400, `strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}

/** "<kind>" or "<kind>/<name>" (a name may hold further slashes, as Consul splits only once). */
function kindAndName(rest: string) {
  const slash = rest.indexOf("/");
  return slash < 0 ? { kind: rest, name: undefined } : { kind: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

/**
 * The config-entry endpoints for the kinds consul-dev supports: service-intentions entries are the intention store's
 * own entries (so the legacy intention endpoints see every write here, and the other way round), and minimal
 * service-defaults. Reads of other kinds Consul knows answer as if none were written.
 */
export function configRoutes({ state, intentions, serviceDefaults, blocking }: ConfigContext) {
  const indexOf = (kind: string) =>
    kind === "service-intentions" ? intentions.index() : kind === "service-defaults" ? serviceDefaults.index() : 1;

  const apply = (request: ConsulRequest): Reply => {
    const condition = cas(request.query);
    const entry = configEntryInput(jsonBody(request.body));
    const written =
      entry.kind === "service-intentions"
        ? intentions.writeEntry(entry.name, entry.sources, entry.meta, condition)
        : serviceDefaults.write(entry.name, entry.protocol, entry.meta, condition);
    return { json: written };
  };

  const read = (request: ConsulRequest) => {
    checkCommonQuery(request.query, state.node.datacenter);
    const { kind, name } = kindAndName(request.rest);
    const known = knownKind(kind);
    const render = (): Reply => {
      if (name === undefined) {
        if (known === "service-intentions") return { json: intentions.entries().map(serviceIntentionsView) };
        if (known === "service-defaults") return { json: serviceDefaults.list().map(serviceDefaultsView) };
        return { json: [] };
      }
      const intentionsEntry = known === "service-intentions" ? intentions.entry(name) : undefined;
      if (intentionsEntry) return { json: serviceIntentionsView(intentionsEntry) };
      const defaultsEntry = known === "service-defaults" ? serviceDefaults.get(name) : undefined;
      if (defaultsEntry) return { json: serviceDefaultsView(defaultsEntry) };
      return { status: 404, text: `Config entry not found for ${JSON.stringify(kind)} / ${JSON.stringify(name)}` };
    };
    return blockingQuery(request, state, () => indexOf(known), render, blocking);
  };

  const remove = (request: ConsulRequest): Reply => {
    const { kind, name } = kindAndName(request.rest);
    if (name === undefined) throw new RequestError(404, "Must provide both a kind and name to delete");
    const known = knownKind(kind);
    const condition = cas(request.query);
    const deleted =
      known === "service-intentions"
        ? intentions.deleteEntry(name, condition)
        : known === "service-defaults"
          ? serviceDefaults.delete(name, condition)
          : false;
    // Like Consul: a CAS delete says whether it deleted; a plain one answers {} either way.
    return { json: condition === undefined ? {} : deleted };
  };

  return [
    { method: "PUT", path: "/v1/config", handler: apply },
    { method: "GET", prefix: "/v1/config/", handler: read },
    { method: "DELETE", prefix: "/v1/config/", handler: remove },
  ];
}
