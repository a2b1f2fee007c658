export { type ManagedProcess, startProcess } from "./child-process.ts";
export {
  applyIntentions,
  CLI_IDENTITY,
  DASHBOARD_IDENTITY,
  type IntentionSpec,
  meshIntentions,
} from "./intentions.ts";
export { type InstanceInfo, type LocalMesh, type LocalMeshOptions, startLocalMesh } from "./local-mesh.ts";
export { serviceBundle } from "./service-bundle.ts";
export { SHOP } from "./topology.ts";
