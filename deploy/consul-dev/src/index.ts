export { type ConsulDevOptions, type RunningConsulDev, startConsulDev } from "./agent.ts";
export type { CaRoot, ConnectCA, IssuedLeaf } from "./connect/ca.ts";
export type { Intention, IntentionStore, ServiceIntentionsEntry } from "./connect/intentions.ts";
export type { ServiceDefaultsEntry, ServiceDefaultsStore } from "./connect/service-defaults.ts";
export { parseServiceSpiffeId, type ServiceIdentity, serviceSpiffeId } from "./connect/spiffe.ts";
export {
  createTestAuthority,
  type TestAuthority,
  type TestAuthorityOptions,
  type TestLeaf,
  type TestLeafOptions,
} from "./connect/test-authority.ts";
export { formatDuration, parseDuration } from "./duration.ts";
