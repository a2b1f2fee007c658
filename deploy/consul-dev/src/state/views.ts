import type { AgentState } from "./agent-state.ts";
import type { Check, NodeInfo, ServiceInstance } from "./model.ts";
import { intervalOf, timeoutOf } from "./registration.ts";

// The JSON shapes Consul answers with (field names and casing as real 1.x responses carry them).

export function nodeView(node: NodeInfo, index: number) {
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: { lan: node.address, lan_ipv4: node.address, wan: node.address, wan_ipv4: node.address },
    Meta: { "consul-network-segment": "" },
    CreateIndex: index,
    ModifyIndex: index,
  };
}

function taggedAddresses(instance: ServiceInstance) {
  if (!instance.address) return undefined;
  const family = instance.address.includes(":") ? "ipv6" : "ipv4";
  const tagged = { Address: instance.address, Port: instance.port };
  return { [`lan_${family}`]: tagged, [`wan_${family}`]: tagged };
}

/** A service instance as /v1/health/service shows it. */
export function serviceView(instance: ServiceInstance) {
  return {
    ID: instance.id,
    Service: instance.service,
    Tags: instance.tags,
    Address: instance.address,
    TaggedAddresses: taggedAddresses(instance) ?? {},
    Meta: instance.meta,
    Port: instance.port,
    Weights: instance.weights,
    EnableTagOverride: instance.enableTagOverride,
    Proxy: { MeshGateway: {}, Expose: {} },
    Connect: {},
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}

/** A service instance as the agent's own endpoints show it. */
export function agentServiceView(instance: ServiceInstance, datacenter: string) {
  const tagged = taggedAddresses(instance);
  return {
    ID: instance.id,
    Service: instance.service,
    Tags: instance.tags,
    Meta: instance.meta,
    Port: instance.port,
    Address: instance.address,
    ...(tagged ? { TaggedAddresses: tagged } : {}),
    Weights: instance.weights,
    EnableTagOverride: instance.enableTagOverride,
    Datacenter: datacenter,
  };
}

export function checkView(check: Check, nodeName: string) {
  return {
    Node: nodeName,
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: check.notes,
    Output: check.output,
    ServiceID: check.serviceId,
    ServiceName: check.serviceName,
    ServiceTags: check.serviceTags,
    Type: check.definition.type,
    Interval: intervalOf(check),
    Timeout: timeoutOf(check),
    ExposedPort: 0,
    Definition: {},
    CreateIndex: check.createIndex,
    ModifyIndex: check.modifyIndex,
  };
}

export function catalogServiceView(state: AgentState, instance: ServiceInstance) {
  const node = nodeView(state.node, state.nodeIndex);
  return {
    ID: node.ID,
    Node: node.Node,
    Address: node.Address,
    Datacenter: node.Datacenter,
    TaggedAddresses: node.TaggedAddresses,
    NodeMeta: node.Meta,
    ServiceKind: "",
    ServiceID: instance.id,
    ServiceName: instance.service,
    ServiceTags: instance.tags,
    ServiceAddress: instance.address,
    ServiceTaggedAddresses: taggedAddresses(instance) ?? {},
    ServiceWeights: instance.weights,
    ServiceMeta: instance.meta,
    ServicePort: instance.port,
    ServiceEnableTagOverride: instance.enableTagOverride,
    ServiceProxy: { MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: instance.createIndex,
    ModifyIndex: instance.modifyIndex,
  };
}
