import { createHash } from "node:crypto";
import type { CheckRunner } from "../checks/check-runner.ts";
import type { AgentState } from "../state/agent-state.ts";
import type { Check, CheckStatus } from "../state/model.ts";
import { DEFAULT_LIMITS, type RegistrationLimits, registerService } from "../state/registration.ts";
import { agentServiceView, checkView } from "../state/views.ts";
import { jsonBody, RequestError, stringField } from "./fields.ts";
import { type ConsulRequest, flag, type Reply } from "./query.ts";

const OUTPUT_MAX = 4096;
const EMPTY: Reply = {};
const MAINTENANCE_NOTE =
  "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

function truncate(output: string): string {
  const bytes = Buffer.from(output);
  if (bytes.length <= OUTPUT_MAX) return output;
  return `${bytes.subarray(0, OUTPUT_MAX).toString()} ... (captured ${OUTPUT_MAX} of ${bytes.length} bytes)`;
}

export interface AgentContext {
  state: AgentState;
  runner: CheckRunner;
  limits?: RegistrationLimits;
}

function ttlCheck(state: AgentState, checkId: string): Check {
  const check = state.checks.get(checkId);
  if (!check)
    throw new RequestError(
      404,
      `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`,
    );
  if (check.definition.type !== "ttl") throw new RequestError(500, `CheckID "${checkId}" does not have associated TTL`);
  return check;
}

/** The agent endpoints: local registration, TTL heartbeats, maintenance, and the agent's own view. */
export function agentRoutes({ state, runner, limits = DEFAULT_LIMITS }: AgentContext) {
  const register = (request: ConsulRequest): Reply => {
    const replace = request.query.has("replace-existing-checks") && flag(request.query, "replace-existing-checks");
    const { checks, removedChecks } = registerService(state, jsonBody(request.body), replace, limits);
    for (const check of removedChecks) runner.unschedule(check.checkId);
    for (const check of checks) runner.schedule(check);
    return EMPTY;
  };

  const deregister = (request: ConsulRequest): Reply => {
    const id = request.rest;
    if (!state.services.has(id)) {
      throw new RequestError(
        404,
        `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
      );
    }
    for (const check of state.checksOf(id)) runner.unschedule(check.checkId);
    state.removeService(id);
    return EMPTY;
  };

  const heartbeat =
    (status: CheckStatus) =>
    (request: ConsulRequest): Reply => {
      runner.heartbeat(ttlCheck(state, request.rest), status, truncate(request.query.get("note") ?? ""));
      return EMPTY;
    };

  const update = (request: ConsulRequest): Reply => {
    const check = ttlCheck(state, request.rest);
    const body = jsonBody(request.body);
    const status = stringField(body, "Status") ?? check.status;
    if (!["passing", "warning", "critical"].includes(status))
      throw new RequestError(400, `Invalid check status: '${status}'`);
    runner.heartbeat(check, status as CheckStatus, truncate(stringField(body, "Output") ?? ""));
    return EMPTY;
  };

  const maintenance = (request: ConsulRequest): Reply => {
    const id = request.rest;
    const instance = state.services.get(id);
    if (!instance)
      throw new RequestError(
        404,
        `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
      );
    if (!request.query.has("enable")) throw new RequestError(400, "Missing value for enable");
    const enable = flag(request.query, "enable", `Invalid value for enable: "${request.query.get("enable")}"`);
    const checkId = `_service_maintenance:${id}`;
    const existing = state.checks.get(checkId);
    if (enable && !existing) {
      const index = state.advance();
      state.checks.set(checkId, {
        checkId,
        name: "Service Maintenance Mode",
        status: "critical",
        notes: request.query.get("reason") || MAINTENANCE_NOTE,
        output: "",
        serviceId: id,
        serviceName: instance.service,
        serviceTags: instance.tags,
        definition: { type: "" },
        deregisterAfterMs: undefined,
        criticalSince: undefined,
        createIndex: index,
        modifyIndex: index,
      });
    } else if (!enable && existing) {
      state.checks.delete(checkId);
      state.advance();
    }
    return EMPTY;
  };

  const services = (): Reply => ({
    json: Object.fromEntries(
      [...state.services.values()].map((s) => [s.id, agentServiceView(s, state.node.datacenter)]),
    ),
  });

  const service = (request: ConsulRequest): Reply => {
    const instance = state.services.get(request.rest);
    if (!instance) throw new RequestError(404, `unknown service ID: ${request.rest}`);
    const view = agentServiceView(instance, state.node.datacenter);
    const hash = createHash("sha256").update(JSON.stringify(view)).digest("hex").slice(0, 16);
    return { json: { ...view, ContentHash: hash }, headers: { "X-Consul-ContentHash": hash } };
  };

  const checks = (): Reply => ({
    json: Object.fromEntries(
      [...state.checks.values()].map((check) => [check.checkId, checkView(check, state.node.name)]),
    ),
  });

  const self = (): Reply => ({
    json: {
      Config: {
        Datacenter: state.node.datacenter,
        PrimaryDatacenter: state.node.datacenter,
        NodeName: state.node.name,
        NodeID: state.node.id,
        Server: true,
        Version: "1.20.1",
        Revision: "consul-dev",
        BuildDate: "2026-01-01T00:00:00Z",
      },
      Member: {
        Name: state.node.name,
        Addr: state.node.address,
        Port: 8301,
        Tags: { dc: state.node.datacenter, role: "consul" },
        Status: 1,
      },
      Meta: { "consul-network-segment": "" },
      Coord: {},
      DebugConfig: {},
      Stats: {},
    },
  });

  return [
    { method: "PUT", path: "/v1/agent/service/register", handler: register },
    { method: "PUT", prefix: "/v1/agent/service/deregister/", handler: deregister },
    { method: "PUT", prefix: "/v1/agent/service/maintenance/", handler: maintenance },
    { method: "PUT", prefix: "/v1/agent/check/pass/", handler: heartbeat("passing") },
    { method: "PUT", prefix: "/v1/agent/check/warn/", handler: heartbeat("warning") },
    { method: "PUT", prefix: "/v1/agent/check/fail/", handler: heartbeat("critical") },
    { method: "PUT", prefix: "/v1/agent/check/update/", handler: update },
    { method: "GET", path: "/v1/agent/services", handler: services },
    { method: "GET", prefix: "/v1/agent/service/", handler: service },
    { method: "GET", path: "/v1/agent/checks", handler: checks },
    { method: "GET", path: "/v1/agent/self", handler: self },
  ];
}
