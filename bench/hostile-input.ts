// Hostile input against a sidecar's public (inbound) port and the gateway's HTTP edge, while well-behaved calls keep
// going: counts what was tried, and checks that both processes stay up, keep answering, and keep memory bounded.
// Then callers that are not trusted mesh services against a sidecar's mutual-TLS inbound port (hostile-tls.ts),
// while a caller's sidecar with a valid identity keeps calling through it.
//
//   npm run bench:hostile             full run (about a minute), writes bench/results/hostile-input.md
//   npm run bench:hostile -- --quick  a short run
//
// The sidecar and the gateway run as processes of their own (the sidecar from its bundle), so a crash is visible.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as connectHttp2, constants } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { freePort } from "@mesh/embedded";
import { startEchoServer, steadyLoad } from "@mesh/kit/testing";
import { serviceBundle } from "@mesh/local";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { sidecarProcessArgs } from "@mesh/sidecar";
import { HANDSHAKE_TIMEOUT_MS, runTlsCases, stalledClosedInTime, tlsPassed, tlsReport } from "./hostile-tls.ts";
import { mutatedConversation } from "./mutated-frames.ts";
import { rssMiB, waitForPort } from "./process-probes.ts";
import { publishReport } from "./publish-report.ts";
import { seededBytes } from "./seeded-bytes.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 200 : 2000;
const MUTATION_ROUNDS = quick ? 1000 : 10_000;
const IDLE_CONNECTIONS = quick ? 200 : 1000;
const ROOT = resolve(import.meta.dirname, "..");
const PATH = "/mesh.echo.v1.EchoService/Echo";

/** Sends bytes on a fresh connection and waits for the far side to close it (or a short timeout). */
function rawSend(port: number, bytes: Buffer): Promise<void> {
  return new Promise((done) => {
    const socket = connectTcp(port, "127.0.0.1", () => socket.end(bytes));
    socket.on("data", () => {});
    socket.on("error", () => done());
    socket.on("close", () => done());
    socket.setTimeout(2000, () => socket.destroy());
  });
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One gRPC call over a raw HTTP/2 session with a chosen body and headers; resolves when the stream closes. */
function h2Call(port: number, headers: Record<string, string>, body: Buffer): Promise<void> {
  return new Promise((done) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on("error", () => done());
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    stream.on("error", () => {});
    stream.on("data", () => {});
    stream.on("close", () => {
      session.destroy();
      done();
    });
    stream.end(body);
  });
}

function frame(declared: number, payload: Buffer) {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declared, 1);
  return Buffer.concat([header, payload]);
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), "mesh-hostile-"));
  const app = await startEchoServer("target");
  const children: ChildProcess[] = [];
  try {
    const [inbound, admin, gatewayHttp, gatewayGrpc] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const config = join(work, "sidecar.json");
    await writeFile(
      config,
      JSON.stringify({
        inbound: { listen: `127.0.0.1:${inbound}`, app: app.address },
        admin: { listen: `127.0.0.1:${admin}` },
      }),
    );
    const sidecar = spawn(process.execPath, sidecarProcessArgs(config), {
      stdio: "ignore",
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    // The gateway's backends are unreachable on purpose: the edge must still answer every request precisely.
    const gateway = spawn(process.execPath, [await serviceBundle(ROOT, "gateway")], {
      stdio: "ignore",
      env: {
        ...process.env,
        LOG_LEVEL: "silent",
        GATEWAY_HTTP_PORT: String(gatewayHttp),
        GRPC_PORT: String(gatewayGrpc),
        SIDECAR_OUTBOUND: `127.0.0.1:${await freePort()}`,
      },
    });
    children.push(sidecar, gateway);
    await Promise.all([waitForPort(`127.0.0.1:${inbound}`), waitForPort(`127.0.0.1:${gatewayHttp}`)]);
    const pids = { sidecar: sidecar.pid as number, gateway: gateway.pid as number };
    const rssBefore = { sidecar: await rssMiB(pids.sidecar), gateway: await rssMiB(pids.gateway) };
    const peak = { ...rssBefore };
    const sampler = setInterval(async () => {
      peak.sidecar = Math.max(peak.sidecar, await rssMiB(pids.sidecar).catch(() => 0));
      peak.gateway = Math.max(peak.gateway, await rssMiB(pids.gateway).catch(() => 0));
    }, 200);

    const echo = createClient(EchoService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${inbound}` }));
    const load = steadyLoad(() => echo.echo({ message: "well-behaved" }, { timeoutMs: 5000 }));
    const valid = frame(0, Buffer.alloc(0)); // an empty EchoRequest
    const tried: Record<string, number> = {};
    const count = (name: string) => (tried[name] = (tried[name] ?? 0) + 1);

    const idle: Socket[] = [];
    for (let i = 0; i < IDLE_CONNECTIONS; i++) {
      const socket = connectTcp(inbound, "127.0.0.1");
      socket.on("error", () => {});
      idle.push(socket);
      count("idle connections held open");
    }
    for (let round = 0; round < ROUNDS; round++) {
      const garbage = seededBytes(16 + (round % 512), round + 1);
      await rawSend(inbound, garbage);
      count("random bytes");
      const mutated = Buffer.concat([PREFACE, seededBytes(9 + (round % 200), round + 7)]);
      await rawSend(inbound, mutated);
      count("mutated HTTP/2 frames after a valid preface");
      await rawSend(inbound, Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${"X-Flood: y\r\n".repeat(round % 50)}\r\n`));
      count("HTTP/1.1 requests");
      if (round % 4 === 0) {
        await h2Call(inbound, {}, frame(64 * 1024 * 1024, Buffer.alloc(1024)));
        count("oversized gRPC messages (declared 64 MiB)");
        await h2Call(inbound, {}, frame(1000, Buffer.alloc(10)));
        count("truncated gRPC messages");
        await h2Call(inbound, { "content-type": "text/html" }, valid);
        count("non-gRPC content types");
        await h2Call(
          inbound,
          Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-flood-${i}`, "v".repeat(100)])),
          valid,
        );
        count("header floods (100 headers)");
        await h2Call(inbound, { "grpc-timeout": "forever" }, valid);
        count("malformed grpc-timeout");
      }
      if (round % 2 === 0) {
        const body =
          round % 4 === 0 ? "{not json" : round % 4 === 2 ? JSON.stringify({ orderId: "x".repeat(round % 2000) }) : "";
        await fetch(`http://127.0.0.1:${gatewayHttp}/shop.gateway.v1.GatewayService/GetOrderView`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        })
          .then((response) => response.text())
          .catch(() => undefined);
        count("invalid or hostile JSON to the gateway");
      }
    }
    for (let round = 0; round < MUTATION_ROUNDS; round++) {
      await rawSend(inbound, mutatedConversation(PATH, round));
      count("mutated valid HTTP/2 conversations (bytes overwritten after the preface)");
    }
    // Many streams opened and reset at once on one connection.
    const session = connectHttp2(`http://127.0.0.1:${inbound}`);
    session.on("error", () => {});
    for (let i = 0; i < (quick ? 1000 : 5000); i++) {
      const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc" });
      stream.on("error", () => {});
      stream.close(constants.NGHTTP2_CANCEL);
      count("streams opened and reset");
    }
    await sleep(500);
    session.destroy();
    for (const socket of idle) socket.destroy();
    console.error("mutual TLS cases...");
    const tls = await runTlsCases({ work, app: app.address, rounds: quick ? 10 : 100, stalled: quick ? 200 : 1000 });
    const { calls, failures, errors } = await load.stop();
    clearInterval(sampler);
    await sleep(500);
    const alive = { sidecar: sidecar.exitCode === null, gateway: gateway.exitCode === null };
    const after = {
      sidecar: await rssMiB(pids.sidecar).catch(() => 0),
      gateway: await rssMiB(pids.gateway).catch(() => 0),
    };
    const stillServes = (await echo.echo({ message: "after" })).message === "after";
    const gatewayAnswers = (
      await fetch(`http://127.0.0.1:${gatewayHttp}/shop.gateway.v1.GatewayService/GetOrderView`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      })
    ).status;

    const lines = [
      "# Hostile input, measured",
      "",
      `Produced by \`npm run bench:hostile${quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} CPUs, Node ${process.version}.`,
      "Targets: a sidecar's inbound listener (from its bundle, in front of the echo test app) and the gateway's HTTP edge (with unreachable backends).",
      "",
      "| what was tried | count |",
      "|---|---|",
      ...Object.entries(tried).map(([name, n]) => `| ${name} | ${n} |`),
      "",
      "| outcome | sidecar | gateway |",
      "|---|---|---|",
      `| still running afterwards | ${alive.sidecar ? "yes" : "NO"} | ${alive.gateway ? "yes" : "NO"} |`,
      `| resident memory before / peak / after (MiB) | ${rssBefore.sidecar.toFixed(0)} / ${peak.sidecar.toFixed(0)} / ${after.sidecar.toFixed(0)} | ${rssBefore.gateway.toFixed(0)} / ${peak.gateway.toFixed(0)} / ${after.gateway.toFixed(0)} |`,
      `| answers afterwards | ${stillServes ? "yes" : "NO"} | HTTP ${gatewayAnswers} |`,
      "",
      `Well-behaved calls through the sidecar meanwhile: ${calls} succeeded, ${failures} failed${errors.length ? ` (${errors.join("; ")})` : ""}` +
        " (they ran through both halves of the run).",
      "",
      ...tlsReport(tls, quick),
      "",
      `**Totals: ${calls + tls.load.calls} well-behaved calls, ${failures + tls.load.failures} failed** ` +
        `(${calls} plaintext straight to the first sidecar, ${tls.load.calls} over mutual TLS through a caller's sidecar); ` +
        `${stalledClosedInTime(tls) ? "every" : "NOT every"} handshake that never finished was closed by the sidecar within handshakeTimeoutMs (${HANDSHAKE_TIMEOUT_MS} ms) plus 1 s.`,
      "",
    ];
    const text = lines.join("\n");
    await publishReport("hostile-input", text, !quick);
    if (!alive.sidecar || !alive.gateway || !stillServes || failures > 0 || !tlsPassed(tls)) process.exitCode = 1;
  } finally {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    }
    await app.shutdown(100);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
