export { type CallFacts, type Decision, decide, type Intention } from "./authorization/intentions.ts";
export { splitAddress } from "./config/address.ts";
export { ConfigError, loadConfig, parseConfig } from "./config/load.ts";
export type { SidecarConfig } from "./config/schema.ts";
export { MethodCatalog } from "./descriptors/method-catalog.ts";
export { type EndpointSource, StaticEndpoints } from "./discovery/endpoint-source.ts";
export { SIDECAR_BIN, SIDECAR_NODE_FLAGS, sidecarProcessArgs } from "./launch.ts";
export { type RunningSidecar, type SidecarOptions, startSidecar } from "./sidecar.ts";
export { serviceIdentityOf } from "./tls/spiffe.ts";
