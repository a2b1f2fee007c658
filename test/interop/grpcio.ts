import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

// Debian's grpcio (the C core) is a gRPC implementation we did not write; its reflection check parses the
// descriptors it gets with Google's own protobuf runtime.
const PYTHON = "/usr/bin/python3";
const repoRoot = resolve(import.meta.dirname, "../..");

/** Runs every grpcio check of grpcio_client.py against `host:port` and returns their results by name. */
export async function runGrpcioChecks(address: string): Promise<Record<string, unknown>> {
  const workDir = await mkdtemp(join(tmpdir(), "mesh-grpcio-"));
  try {
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [
        join(import.meta.dirname, "grpcio_client.py"),
        address,
        join(repoRoot, "proto"),
        join(repoRoot, "proto/vendor"),
        workDir,
      ],
      { timeout: 30_000 },
    );
    return JSON.parse(stdout);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
