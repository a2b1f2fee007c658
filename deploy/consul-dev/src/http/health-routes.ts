import type { AgentState } from "../state/agent-state.ts";
import { consulService } from "../state/consul-service.ts";
import type { Check, ServiceInstance } from "../state/model.ts";
import { catalogServiceView, checkView, nodeView, serviceView } from "../state/views.ts";
import { RequestError } from "./fields.ts";
import {
  type BlockingOptions,
  blockingQuery,
  type ConsulRequest,
  checkCommonQuery,
  flag,
  type Reply,
} from "./query.ts";

const STATES = new Set(["any", "passing", "warning", "critical"]);

/** The health and catalog endpoints: server-backed reads, all of them blocking queries. */
export function healthRoutes(state: AgentState, options: BlockingOptions) {
  const instancesWithTags = (name: string, query: URLSearchParams): ServiceInstance[] => {
    const tags = query.getAll("tag");
    const all = name === "consul" ? [consulService()] : state.instancesOf(name);
    return all.filter((instance) => tags.every((tag) => instance.tags.includes(tag)));
  };
  const checksOf = (instance: ServiceInstance): Check[] =>
    instance.id === "consul" ? [state.serfHealth] : [state.serfHealth, ...state.checksOf(instance.id)];
  const serviceName = (request: ConsulRequest) => {
    if (!request.rest) throw new RequestError(400, "Missing service name");
    checkCommonQuery(request.query, state.node.datacenter);
    return request.rest;
  };
  const block = (request: ConsulRequest, index: () => number, render: () => Reply) =>
    blockingQuery(request, state, index, render, options);

  const healthService = (request: ConsulRequest) => {
    const name = serviceName(request);
    const passingOnly = flag(request.query, "passing");
    return block(
      request,
      () => state.serviceIndex(name),
      () => ({
        json: instancesWithTags(name, request.query)
          .map((instance) => ({ instance, checks: checksOf(instance) }))
          .filter(({ checks }) => !passingOnly || checks.every((check) => check.status === "passing"))
          .map(({ instance, checks }) => ({
            Node: nodeView(state.node, state.nodeIndex),
            Service: serviceView(instance),
            Checks: checks.map((check) => checkView(check, state.node.name)),
          })),
      }),
    );
  };

  const healthChecks = (request: ConsulRequest) => {
    const name = serviceName(request);
    return block(
      request,
      () => state.serviceIndex(name),
      () => ({
        json: [...state.checks.values()]
          .filter((c) => c.serviceName === name)
          .map((c) => checkView(c, state.node.name)),
      }),
    );
  };

  const healthState = (request: ConsulRequest) => {
    const wanted = request.rest;
    if (!wanted) throw new RequestError(400, "Missing check state");
    if (!STATES.has(wanted)) throw new RequestError(400, `Invalid check state: '${wanted}'`);
    checkCommonQuery(request.query, state.node.datacenter);
    return block(
      request,
      () => state.catalogIndex(),
      () => ({
        json: [state.serfHealth, ...state.checks.values()]
          .filter((check) => wanted === "any" || check.status === wanted)
          .map((check) => checkView(check, state.node.name)),
      }),
    );
  };

  const catalogServices = (request: ConsulRequest) => {
    checkCommonQuery(request.query, state.node.datacenter);
    return block(
      request,
      () => state.catalogIndex(),
      () => {
        const tags = new Map<string, Set<string>>([["consul", new Set()]]);
        for (const instance of state.services.values()) {
          const set = tags.get(instance.service) ?? new Set();
          for (const tag of instance.tags) set.add(tag);
          tags.set(instance.service, set);
        }
        return { json: Object.fromEntries([...tags].map(([name, set]) => [name, [...set].sort()])) };
      },
    );
  };

  const catalogService = (request: ConsulRequest) => {
    const name = serviceName(request);
    return block(
      request,
      () => state.serviceIndex(name),
      () => ({
        json: instancesWithTags(name, request.query).map((instance) => catalogServiceView(state, instance)),
      }),
    );
  };

  const catalogNodes = (request: ConsulRequest) => {
    checkCommonQuery(request.query, state.node.datacenter);
    return block(
      request,
      () => state.nodeIndex,
      () => ({ json: [nodeView(state.node, state.nodeIndex)] }),
    );
  };

  return [
    { method: "GET", prefix: "/v1/health/service/", handler: healthService },
    { method: "GET", prefix: "/v1/health/checks/", handler: healthChecks },
    { method: "GET", prefix: "/v1/health/state/", handler: healthState },
    { method: "GET", path: "/v1/catalog/services", handler: catalogServices },
    { method: "GET", prefix: "/v1/catalog/service/", handler: catalogService },
    { method: "GET", path: "/v1/catalog/nodes", handler: catalogNodes },
    { method: "GET", path: "/v1/catalog/datacenters", handler: () => ({ json: [state.node.datacenter] }) },
    { method: "GET", path: "/v1/status/leader", handler: () => ({ json: "127.0.0.1:8300" }) },
    { method: "GET", path: "/v1/status/peers", handler: () => ({ json: ["127.0.0.1:8300"] }) },
  ];
}
