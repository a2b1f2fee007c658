import type { ConnectCA } from "../connect/ca.ts";
import { LeafNameError } from "../connect/ca.ts";
import { parseCaConfiguration } from "../connect/ca-config.ts";
import { configView, leafView, rootsPem, rootsView } from "../connect/views.ts";
import type { AgentState } from "../state/agent-state.ts";
import { jsonBody, RequestError } from "./fields.ts";
import {
  type BlockingOptions,
  blockingQuery,
  type ConsulRequest,
  checkCommonQuery,
  flag,
  type Reply,
} from "./query.ts";

export interface ConnectCaContext {
  state: AgentState;
  ca: ConnectCA;
  blocking: BlockingOptions;
  /** Consul refuses a LeafCertTTL under 1h; consul-dev may allow less so tests can see renewals. */
  minLeafCertTtlMs: number;
}

/** The Connect CA endpoints: trusted roots and each service's leaf (blocking queries), and the CA configuration. */
export function connectCaRoutes({ state, ca, blocking, minLeafCertTtlMs }: ConnectCaContext) {
  const roots = (request: ConsulRequest): Promise<Reply> => {
    checkCommonQuery(request.query, state.node.datacenter);
    // Consul reads ?pem with strconv.ParseBool, and only when it is not empty.
    const pem = request.query.get("pem")
      ? flag(request.query, "pem", "The 'pem' query parameter must be a boolean value")
      : false;
    return blockingQuery(
      request,
      state,
      () => ca.rootsIndex(),
      () =>
        pem
          ? { raw: Buffer.from(rootsPem(ca)), headers: { "Content-Type": "application/pem-certificate-chain" } }
          : { json: rootsView(ca) },
      blocking,
    );
  };

  const agentRoots = (request: ConsulRequest): Promise<Reply> => {
    checkCommonQuery(request.query, state.node.datacenter);
    return blockingQuery(
      request,
      state,
      () => ca.rootsIndex(),
      () => ({ json: rootsView(ca) }),
      blocking,
    );
  };

  const leaf = async (request: ConsulRequest): Promise<Reply> => {
    const service = request.rest;
    checkCommonQuery(request.query, state.node.datacenter);
    try {
      await ca.leafFor(service);
    } catch (error) {
      if (error instanceof LeafNameError) throw new RequestError(service ? 400 : 500, error.message);
      throw error;
    }
    const current = () => ca.leaf(service);
    return blockingQuery(
      request,
      state,
      () => current()?.modifyIndex ?? 1,
      () => {
        const issued = current();
        return issued ? { json: leafView(issued) } : { status: 500, text: "leaf certificate is being issued" };
      },
      blocking,
    );
  };

  const getConfiguration = (request: ConsulRequest): Reply => {
    checkCommonQuery(request.query, state.node.datacenter);
    return { json: configView(ca) };
  };

  const putConfiguration = async (request: ConsulRequest): Promise<Reply> => {
    // Consul answers validation failures from its RPC layer; consul-dev answers them 400 with Consul's wording.
    let update: ReturnType<typeof parseCaConfiguration>;
    try {
      update = parseCaConfiguration(jsonBody(request.body), { minLeafCertTtlMs });
    } catch (error) {
      if (error instanceof RequestError) throw error;
      throw new RequestError(400, (error as Error).message);
    }
    try {
      await ca.updateConfiguration(update);
    } catch (error) {
      throw new RequestError(400, (error as Error).message);
    }
    return {};
  };

  return [
    { method: "GET", path: "/v1/connect/ca/roots", handler: roots },
    { method: "GET", path: "/v1/agent/connect/ca/roots", handler: agentRoots },
    { method: "GET", prefix: "/v1/agent/connect/ca/leaf/", handler: leaf },
    { method: "GET", path: "/v1/connect/ca/configuration", handler: getConfiguration },
    { method: "PUT", path: "/v1/connect/ca/configuration", handler: putConfiguration },
  ];
}
