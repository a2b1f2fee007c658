import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freePort } from "@mesh/embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoServer, echoClient, startEchoServers, tempDir, writeDescriptorSet } from "./harness.ts";

const CLI = resolve(import.meta.dirname, "../bin/mesh-sidecar.js");
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

let app: EchoServer;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  [app] = (await startEchoServers(1)) as [EchoServer];
  dir = await tempDir("mesh-sidecar-cli-");
});

afterAll(async () => {
  await app.shutdown(100);
  await dir.cleanup();
});

async function writeConfig(name: string, text: string) {
  const path = join(dir.dir, name);
  await writeFile(path, text);
  return path;
}

async function waitReady(adminPort: number) {
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return;
    await sleep(50);
  }
  throw new Error("sidecar never became ready");
}

describe("the mesh-sidecar command", () => {
  it("--check validates a config and its descriptors", async () => {
    const descriptors = await writeDescriptorSet(dir.dir);
    const good = await writeConfig(
      "good.yaml",
      `descriptors: [${descriptors}]\nupstreams:\n  echo:\n    services: [mesh.echo.v1.EchoService]\n    endpoints: ["127.0.0.1:9"]\n`,
    );
    expect(await run(["--config", good, "--check"])).toMatchObject({
      code: 0,
      stdout: "config ok: 1 upstream(s) (echo), 1 protobuf service(s) described, mesh TLS off, tracing off\n",
    });
  });

  it("--check names each offending key and value", async () => {
    const bad = await writeConfig(
      "bad.yaml",
      "inbound:\n  listen: nowhere\nupstreams:\n  echo:\n    retry: { retryOn: [UNAVAILBLE] }\n    timeout: 3\n",
    );
    const result = await run(["--config", bad, "--check"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('inbound.listen: expected host:port (for example 127.0.0.1:15001), got "nowhere"');
    expect(result.stderr).toContain(
      'upstreams.echo.retry.retryOn[0]: expected a gRPC status name such as UNAVAILABLE, got "UNAVAILBLE"',
    );
    expect(result.stderr).toContain("upstreams.echo.timeout: unknown key");
  });

  it("names a malformed tracing variable", async () => {
    const config = await writeConfig("plain.yaml", "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:9 }\n");
    const result = await run(["--config", config, "--check"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
      OTEL_TRACES_SAMPLER: "traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "lots",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1, got "lots"');
  });

  it("exports its spans over OTLP/HTTP to the endpoint in the environment, and flushes them when stopped", async () => {
    const bodies: { type: string | undefined; body: Buffer }[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        if (request.url === "/v1/traces")
          bodies.push({ type: request.headers["content-type"], body: Buffer.concat(chunks) });
        response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    collector.listen(0, "127.0.0.1");
    await once(collector, "listening");
    const [inboundPort, adminPort] = [await freePort(), await freePort()];
    const config = await writeConfig(
      "traced.yaml",
      `service: echo\ninbound: { listen: "127.0.0.1:${inboundPort}", app: "${app.address}" }\nadmin: { listen: "127.0.0.1:${adminPort}" }\n`,
    );
    const child: ChildProcess = spawn(process.execPath, [CLI, "--config", config], {
      stdio: "ignore",
      env: {
        ...process.env,
        LOG_LEVEL: "silent",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}`,
      },
    });
    try {
      await waitReady(adminPort);
      await echoClient(`127.0.0.1:${inboundPort}`).echo({ message: "traced" });
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
      const exported = Buffer.concat(bodies.map((each) => each.body)).toString("latin1");
      expect(bodies[0]?.type).toBe("application/x-protobuf");
      expect(exported).toContain("echo-sidecar");
      expect(exported).toContain("mesh.echo.v1.EchoService/Echo");
    } finally {
      child.kill("SIGKILL");
      collector.close();
    }
  });

  it("reports a missing config file and bad usage clearly", async () => {
    expect((await run(["--config", join(dir.dir, "missing.yaml")])).stderr).toMatch(
      /cannot read config .*missing\.yaml/,
    );
    const usage = await run([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--config is required");
  });

  it("on SIGTERM stops being ready, finishes in-flight calls, refuses new ones, and exits 0", async () => {
    const [inboundPort, adminPort] = [await freePort(), await freePort()];
    const config = await writeConfig(
      "run.yaml",
      `inbound: { listen: "127.0.0.1:${inboundPort}", app: "${app.address}" }\nadmin: { listen: "127.0.0.1:${adminPort}" }\ndrainTimeoutMs: 5000\n`,
    );
    const child: ChildProcess = spawn(process.execPath, [CLI, "--config", config], {
      stdio: "ignore",
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    try {
      await waitReady(adminPort);
      const echo = echoClient(`127.0.0.1:${inboundPort}`);
      const slow = echo.echo({ message: "in flight", delayMs: 600 });
      await sleep(100);
      child.kill("SIGTERM");
      await sleep(100);
      expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
      await expect(echo.echo({ message: "late" })).rejects.toThrow();
      expect((await slow).message).toBe("in flight");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
