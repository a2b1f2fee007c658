import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type CallOptions, createClient } from "@connectrpc/connect";
import { INBOUND_CLUSTER } from "@mesh/sidecar";
import { age } from "./age.ts";
import { instanceServing, listInstances } from "./consul.ts";
import { reflectService } from "./reflection.ts";
import { table } from "./table.ts";
import { describeTarget, grpcTransport, type Target } from "./transport.ts";

/** `mesh services`: every instance registered in Consul, with its health and the protobuf services it serves. */
export async function services(): Promise<string> {
  const instances = await listInstances();
  if (instances.length === 0) return "no services registered";
  return table(
    ["service", "instance", "address", "health", "serves"],
    instances.map((each) => [
      each.service,
      each.id,
      `${each.address}:${each.port}`,
      each.status,
      each.grpcServices.join(","),
    ]),
  );
}

export interface CallRequest {
  /** `package.Service/Method` */
  method: string;
  json: string;
  /** Where to call (a sidecar's listener); default: a healthy instance serving the service, from Consul. */
  target?: string;
  /** With `target`: the `:authority` to send, naming the mesh service a sidecar's outbound listener routes to. */
  authority?: string;
  /** The mesh identity to call as when the service takes only mutual TLS (a leaf from the Consul agent). */
  identity?: string;
  headers: Record<string, string>;
  deadlineMs?: number;
}

/** `mesh call`: a grpcurl-like call through reflection: JSON in, JSON out. */
export async function call(request: CallRequest): Promise<string> {
  const slash = request.method.lastIndexOf("/");
  if (slash <= 0) throw new Error(`expected <package.Service>/<Method>, got "${request.method}"`);
  const serviceName = request.method.slice(0, slash).replace(/^\//, "");
  const methodName = request.method.slice(slash + 1);
  let input: JsonValue;
  try {
    input = JSON.parse(request.json || "{}");
  } catch (error) {
    throw new Error(`the request is not JSON: ${(error as Error).message}`);
  }
  const target: Target = request.target
    ? { kind: "plaintext", address: request.target, authority: request.authority }
    : await targetFor(serviceName, request.identity ?? DEFAULT_IDENTITY);
  const transport = await grpcTransport(target);
  const { registry, service } = await reflectService(transport, describeTarget(target), serviceName);
  const method = service.methods.find((each) => each.name === methodName);
  if (!method)
    throw new Error(
      `${serviceName} has no method ${methodName}; it has ${service.methods.map((m) => m.name).join(", ")}`,
    );
  const message = fromJson(method.input, input, { registry });
  const client = createClient(service, transport) as unknown as Record<
    string,
    (input: unknown, options: CallOptions) => unknown
  >;
  const options: CallOptions = { headers: request.headers, timeoutMs: request.deadlineMs };
  const invoke = client[method.localName];
  if (!invoke) throw new Error(`cannot call ${methodName}`);
  if (method.methodKind === "unary") {
    return JSON.stringify(toJson(method.output, (await invoke(message, options)) as never, { registry }), null, 2);
  }
  if (method.methodKind === "server_streaming") {
    const lines: string[] = [];
    for await (const each of invoke(message, options) as AsyncIterable<never>)
      lines.push(JSON.stringify(toJson(method.output, each, { registry })));
    return lines.join("\n");
  }
  throw new Error(
    `${methodName} is a ${method.methodKind.replace("_", "-")} method; mesh call makes unary and server-streaming calls`,
  );
}

/** The identity `mesh call` uses by default; the mesh's intentions decide what it may call. */
export const DEFAULT_IDENTITY = "mesh-cli";

async function targetFor(serviceName: string, identity: string): Promise<Target> {
  const instance = await instanceServing(serviceName);
  const address = `${instance.address}:${instance.port}`;
  return instance.meshTls
    ? { kind: "mesh", address, service: instance.service, identity }
    : { kind: "plaintext", address };
}

interface ClusterView {
  breaker: string;
  endpoints: { address: string; outstanding: number; ejected: boolean }[];
}

/** `mesh stats`: each sidecar's upstreams: breaker state and endpoints, from its admin endpoint. */
export async function stats(): Promise<string> {
  const rows: string[][] = [];
  for (const instance of await listInstances()) {
    if (instance.adminPort === undefined) continue;
    const admin = `http://${instance.address}:${instance.adminPort}`;
    let clusters: Record<string, ClusterView>;
    try {
      clusters = (await (await fetch(`${admin}/clusters`)).json()) as Record<string, ClusterView>;
    } catch {
      rows.push([instance.id, "-", "admin unreachable", "-", "-"]);
      continue;
    }
    const { [INBOUND_CLUSTER]: inbound, ...upstreams } = clusters as Record<string, unknown>;
    if (inbound) {
      const { limit, inFlight, shed } = inbound as { limit: number; inFlight: number; shed: number };
      rows.push([instance.id, "(inbound: app)", `limit ${limit}, ${shed} shed`, "-", String(inFlight)]);
    }
    for (const [upstream, view] of Object.entries(upstreams as Record<string, ClusterView>)) {
      const healthy = view.endpoints.filter((endpoint) => !endpoint.ejected).length;
      const outstanding = view.endpoints.reduce((sum, endpoint) => sum + endpoint.outstanding, 0);
      rows.push([instance.id, upstream, view.breaker, `${healthy}/${view.endpoints.length}`, String(outstanding)]);
    }
  }
  return rows.length
    ? table(["sidecar", "upstream", "breaker", "endpoints ok", "in flight"], rows)
    : "no sidecar answered";
}

interface TimelineStep {
  time?: string;
  trigger?: string;
  toStatus?: string;
  detail?: string;
}

/** `mesh saga <orderId>`: an order's saga, step by step. */
export async function saga(orderId: string, target?: string): Promise<string> {
  const json = await call({
    method: "shop.order.v1.OrderService/GetOrder",
    json: JSON.stringify({ orderId }),
    target,
    headers: {},
  });
  const order = (JSON.parse(json) as { order: { status: string; timeline?: TimelineStep[]; cancelReason?: string } })
    .order;
  const rows = (order.timeline ?? []).map((step) => [
    step.time ?? "",
    step.trigger ?? "",
    (step.toStatus ?? "").replace("ORDER_STATUS_", ""),
    step.detail ?? "",
  ]);
  const status = order.status.replace("ORDER_STATUS_", "");
  return `order ${orderId}: ${status}${order.cancelReason ? ` (${order.cancelReason})` : ""}\n${table(["time", "trigger", "status", "detail"], rows)}`;
}

interface StuckOrderJson {
  orderId?: string;
  status?: string;
  waitingFor?: string;
  /** int64 in JSON may come as a string. */
  stuckForSeconds?: number | string;
}

/** The table of `mesh saga --stuck`, from ListStuckOrders' answer in JSON. */
export function formatStuckOrders(orders: StuckOrderJson[]): string {
  if (orders.length === 0) return "no stuck sagas";
  return table(
    ["order", "status", "waiting for", "stuck for"],
    orders.map((order) => [
      order.orderId ?? "",
      (order.status ?? "").replace("ORDER_STATUS_", ""),
      order.waitingFor || "-",
      age(Number(order.stuckForSeconds ?? 0) * 1000),
    ]),
  );
}

/** `mesh saga --stuck`: sagas past their deadline that are not final, from the order service. */
export async function stuckSagas(target?: string): Promise<string> {
  const json = await call({
    method: "shop.order.v1.OrderService/ListStuckOrders",
    json: JSON.stringify({ pageSize: 100 }),
    target,
    headers: {},
  });
  return formatStuckOrders((JSON.parse(json) as { orders?: StuckOrderJson[] }).orders ?? []);
}
