import type { ServiceInstance } from "./model.ts";

/** The `consul` service a real dev agent lists in its own catalog; mesh code must ignore it. */
export function consulService(): ServiceInstance {
  return {
    id: "consul",
    service: "consul",
    tags: [],
    address: "",
    port: 8300,
    meta: {
      raft_version: "3",
      serf_protocol_current: "2",
      serf_protocol_max: "5",
      serf_protocol_min: "1",
      version: "1.20.1",
    },
    weights: { Passing: 1, Warning: 1 },
    enableTagOverride: false,
    createIndex: 1,
    modifyIndex: 1,
  };
}
