import { fileURLToPath } from "node:url";

/**
 * Node flags the sidecar process runs with. V8's young generation otherwise grows to 2 x 16 MiB under a proxy's
 * steady allocation, a third of a sidecar's memory; 4 MiB semi-spaces cap it at 8 MiB, and measured less GC time
 * per call than 1, 2 or 16 MiB (bench/REPORT.md). Heap flags count only on Node's command line (or NODE_OPTIONS),
 * not once the process runs, so whatever starts a sidecar passes them.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/** The sidecar's command-line entry point (it loads the bundle in sidecar/dist). */
export const SIDECAR_BIN = fileURLToPath(new URL("../bin/mesh-sidecar.js", import.meta.url));

/** Arguments for `process.execPath` that start a sidecar with `config`. */
export function sidecarProcessArgs(config: string, extra: readonly string[] = []): string[] {
  return [...SIDECAR_NODE_FLAGS, SIDECAR_BIN, "--config", config, ...extra];
}
