import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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

export interface MtlsCredentials {
  rootsPem: string;
  certPem: string;
  keyPem: string;
  /** A DNS name in the server's certificate, which grpcio checks. */
  serverName: string;
}

/** One Echo call to `host:port` over mutual TLS with grpcio's own TLS stack; resolves its status and reply. */
export async function grpcioMtlsEcho(
  address: string,
  credentials: MtlsCredentials,
): Promise<{ code: string; details: string; reply: string }> {
  const workDir = await mkdtemp(join(tmpdir(), "mesh-grpcio-"));
  try {
    const files = { roots: credentials.rootsPem, cert: credentials.certPem, key: credentials.keyPem };
    for (const [name, pem] of Object.entries(files))
      await writeFile(join(workDir, `${name}.pem`), pem, { mode: 0o600 });
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [
        join(import.meta.dirname, "grpcio_mtls_call.py"),
        address,
        ...Object.keys(files).map((name) => join(workDir, `${name}.pem`)),
        credentials.serverName,
      ],
      { timeout: 30_000 },
    );
    return JSON.parse(stdout);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
