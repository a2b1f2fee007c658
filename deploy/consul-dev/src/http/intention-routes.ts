import { intentionInput, intentionName } from "../connect/intention-input.ts";
import { decidingIntention, describeIntention, type IntentionStore, type MatchBy } from "../connect/intentions.ts";
import { parseServiceSpiffeId } from "../connect/spiffe.ts";
import { intentionView } from "../connect/views.ts";
import type { AgentState } from "../state/agent-state.ts";
import { field, jsonBody, RequestError } from "./fields.ts";
import { type BlockingOptions, blockingQuery, type ConsulRequest, checkCommonQuery, type Reply } from "./query.ts";

export interface IntentionContext {
  state: AgentState;
  intentions: IntentionStore;
  blocking: BlockingOptions;
}

/** consul-dev runs without ACLs, so a connection no intention decides is allowed (Consul's default then). */
const DEFAULT_ALLOW = true;

function required(query: URLSearchParams, name: string): string {
  const values = query.getAll(name);
  if (values.length !== 1) throw new RequestError(400, `required query parameter '${name}' not set`);
  return values[0] as string;
}

function named(input: string, role: "SourceName" | "DestinationName", label: string): string {
  try {
    return intentionName(input, role);
  } catch (error) {
    throw new RequestError(400, `${label} ${JSON.stringify(input)} is invalid: ${(error as Error).message}`);
  }
}

/**
 * The intention endpoints (the legacy /v1/connect/intentions family, which Consul keeps reading and writing the same
 * data as service-intentions config entries) and the agent's L4 authorize endpoint. Every write advances the index,
 * so blocking list and match queries wake up.
 */
export function intentionRoutes({ state, intentions, blocking }: IntentionContext) {
  const block = (request: ConsulRequest, render: () => Reply) => {
    checkCommonQuery(request.query, state.node.datacenter);
    return blockingQuery(request, state, () => intentions.index(), render, blocking);
  };
  const pair = (request: ConsulRequest) => ({
    source: named(required(request.query, "source"), "SourceName", "source"),
    destination: named(required(request.query, "destination"), "DestinationName", "destination"),
  });

  const putExact = (request: ConsulRequest): Reply => {
    const { source, destination } = pair(request);
    intentions.upsert(source, destination, intentionInput(jsonBody(request.body)));
    return { json: true };
  };

  const getExact = (request: ConsulRequest): Reply => {
    checkCommonQuery(request.query, state.node.datacenter);
    const { source, destination } = pair(request);
    const intention = intentions.get(source, destination);
    if (!intention) throw new RequestError(404, "Intention not found");
    return { json: intentionView(intention) };
  };

  const deleteExact = (request: ConsulRequest): Reply => {
    const { source, destination } = pair(request);
    intentions.remove(source, destination);
    return { json: true };
  };

  const byId = (request: ConsulRequest) => {
    // Only legacy-written intentions have an ID; those written as config entries are found by name only.
    const intention = request.rest ? intentions.list().find((each) => each.id === request.rest) : undefined;
    if (!intention) throw new RequestError(404, "Intention not found");
    return intention;
  };

  const list = (request: ConsulRequest) => block(request, () => ({ json: intentions.list().map(intentionView) }));

  const match = (request: ConsulRequest) => {
    const by = request.query.getAll("by");
    if (by.length !== 1) throw new RequestError(400, "required query parameter 'by' not set");
    if (by[0] !== "source" && by[0] !== "destination") {
      throw new RequestError(400, "'by' parameter must be one of 'source' or 'destination'");
    }
    const names = request.query.getAll("name");
    if (names.length === 0) throw new RequestError(400, "required query parameter 'name' not set");
    const wanted = names.map((name) => ({
      name,
      service: named(name, by[0] === "source" ? "SourceName" : "DestinationName", "name"),
    }));
    return block(request, () => ({
      json: Object.fromEntries(
        wanted.map(({ name, service }) => [name, intentions.match(by[0] as MatchBy, service).map(intentionView)]),
      ),
    }));
  };

  const check = (request: ConsulRequest): Reply => {
    checkCommonQuery(request.query, state.node.datacenter);
    const { source, destination } = pair(request);
    const deciding = decidingIntention(intentions.list(), source, destination);
    // The L4 view: an intention with L7 permissions counts as deny here.
    const allowed = deciding ? deciding.permissions.length === 0 && deciding.action === "allow" : DEFAULT_ALLOW;
    return { json: { Allowed: allowed } };
  };

  const authorize = (request: ConsulRequest): Reply => {
    const body = jsonBody(request.body);
    const target = field(body, "Target");
    if (typeof target !== "string" || !target) throw new RequestError(400, "Target service must be specified");
    const uri = field(body, "ClientCertURI");
    const client = parseServiceSpiffeId(typeof uri === "string" ? uri : "");
    if (client === "invalid") throw new RequestError(400, "ClientCertURI not a valid Connect identifier");
    if (client === "not-a-service") throw new RequestError(400, "ClientCertURI not a valid Service identifier");
    // Like Consul, the trust domain is not checked here (the TLS handshake checks the chain); intentions name services
    // of the default namespace, so a client of another namespace matches none and gets the default.
    const deciding =
      client.namespace === "default" ? decidingIntention(intentions.list(), client.service, target) : undefined;
    if (!deciding) {
      return { json: { Authorized: DEFAULT_ALLOW, Reason: "ACLs disabled, access is allowed by default" } };
    }
    if (deciding.permissions.length > 0) {
      return { json: { Authorized: false, Reason: `Matched L7 intention: ${describeIntention(deciding)}` } };
    }
    return {
      json: { Authorized: deciding.action === "allow", Reason: `Matched L4 intention: ${describeIntention(deciding)}` },
    };
  };

  return [
    { method: "PUT", path: "/v1/connect/intentions/exact", handler: putExact },
    { method: "GET", path: "/v1/connect/intentions/exact", handler: getExact },
    { method: "DELETE", path: "/v1/connect/intentions/exact", handler: deleteExact },
    { method: "GET", path: "/v1/connect/intentions", handler: list },
    { method: "GET", path: "/v1/connect/intentions/match", handler: match },
    { method: "GET", path: "/v1/connect/intentions/check", handler: check },
    {
      method: "GET",
      prefix: "/v1/connect/intentions/",
      handler: (r: ConsulRequest) => ({ json: intentionView(byId(r)) }),
    },
    {
      method: "DELETE",
      prefix: "/v1/connect/intentions/",
      handler: (r: ConsulRequest): Reply => {
        const intention = byId(r);
        intentions.remove(intention.source, intention.destination);
        return {};
      },
    },
    { method: "POST", path: "/v1/agent/connect/authorize", handler: authorize },
  ];
}
