export { type ManagedProcess, startProcess } from "./child-process.ts";
export { type InstanceInfo, type LocalMesh, type LocalMeshOptions, startLocalMesh } from "./local-mesh.ts";
export { SHOP } from "./topology.ts";
