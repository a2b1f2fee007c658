// The mutual-TLS half of `npm run bench:hostile`: callers that are not trusted mesh services, against a sidecar's
// mesh-TLS inbound port, while a caller's sidecar with a valid identity (allowed by intentions) keeps calling through
// it. Each case records what the hostile caller got: the gRPC status and message, or how the connection ended.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { connect as connectHttp2, type SecureClientSessionOptions } from "node:http2";
import { connect as connectTcp } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestAuthority } from "@mesh/consul-dev";
import { freePort } from "@mesh/embedded";
import { steadyLoad } from "@mesh/kit/testing";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { sidecarProcessArgs, statusName } from "@mesh/sidecar";
import { agentLeaf, eventually, putIntention, startMeshConsul } from "../sidecar/test/mesh-tls.ts";
import { rssMiB, waitForPort } from "./process-probes.ts";
import { seededBytes } from "./seeded-bytes.ts";

const ECHO_SERVICE = "mesh.echo.v1.EchoService";
export const HANDSHAKE_TIMEOUT_MS = 2000;

/** TLS alert descriptions (RFC 8446 section 6) a server may answer garbage with. */
const TLS_ALERTS: Record<number, string> = {
  10: "unexpected_message",
  20: "bad_record_mac",
  22: "record_overflow",
  40: "handshake_failure",
  47: "illegal_parameter",
  50: "decode_error",
  70: "protocol_version",
  80: "internal_error",
};

/** One case of the table: what was tried, how often, and each distinct outcome with its count. */
export interface TlsCase {
  name: string;
  tried: number;
  outcomes: Map<string, number>;
}

export interface StalledHandshakes {
  name: string;
  opened: number;
  closedByServer: number;
  medianCloseMs: number;
  maxCloseMs: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
}

export interface TlsResult {
  cases: TlsCase[];
  stalled: StalledHandshakes[];
  load: { calls: number; failures: number; errors: string[] };
  alive: boolean;
  stillServes: boolean;
  rss: { before: number; peak: number; after: number };
  refused: string[];
}

const grpcHeaders = (method: string) => ({
  ":method": "POST",
  ":path": `/${ECHO_SERVICE}/${method}`,
  "content-type": "application/grpc",
  te: "trailers",
});

const EMPTY_REQUEST = Buffer.alloc(5); // a gRPC frame holding an empty EchoRequest

/**
 * One gRPC call over a fresh HTTP/2 session (TLS when `tls` is given): the status and message it ended with, or how
 * the connection failed. The session is closed afterwards either way.
 */
function grpcCall(port: number, method: string, tls?: SecureClientSessionOptions): Promise<string> {
  return new Promise((done) => {
    const scheme = tls ? "https" : "http";
    const session = connectHttp2(`${scheme}://127.0.0.1:${port}`, {
      ...tls,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => finish("no answer within 5 s"), 5000);
    let status: string | undefined;
    let message = "";
    const record = (headers: Record<string, unknown>) => {
      if (headers["grpc-status"] === undefined) return;
      status = statusName(Number(headers["grpc-status"]));
      message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    };
    function finish(outcome: string) {
      clearTimeout(timer);
      session.destroy();
      done(outcome);
    }
    session.on("error", (error: NodeJS.ErrnoException) => finish(`connection failed: ${error.code ?? error.message}`));
    const stream = session.request(grpcHeaders(method));
    stream.on("response", record);
    stream.on("trailers", record);
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () =>
      finish(
        status
          ? `${status}${message ? `: ${message}` : ""}`
          : `stream closed without a status (RST_STREAM ${stream.rstCode})`,
      ),
    );
    stream.end(EMPTY_REQUEST);
  });
}

/** Sends bytes on a fresh TCP connection and waits for the server to answer and close (or 5 s). */
function rawExchange(port: number, bytes: Buffer): Promise<{ received: Buffer; closedByServer: boolean }> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    const socket = connectTcp(port, "127.0.0.1", () => socket.write(bytes));
    const timer = setTimeout(() => socket.destroy(), 5000);
    let closedByServer = false;
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("end", () => {
      closedByServer = true;
      socket.end();
    });
    socket.on("error", () => {
      closedByServer = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      done({ received: Buffer.concat(chunks), closedByServer });
    });
  });
}

function describeRawAnswer({ received, closedByServer }: { received: Buffer; closedByServer: boolean }): string {
  const ending = closedByServer ? "closed by the sidecar" : "still open after 5 s";
  if (received.length === 0) return `no bytes back, ${ending}`;
  if (received[0] === 0x15 && received.length >= 7) {
    const level = received[5] === 2 ? "fatal" : "warning";
    return `TLS ${level} alert ${TLS_ALERTS[received[6] as number] ?? received[6]}, ${ending}`;
  }
  const text = received.toString("latin1");
  const status = text.split("\r\n")[0];
  const body = text.split("\r\n\r\n")[1]?.trim();
  return `${status}${body ? ` "${body}"` : ""}, ${ending}`;
}

/**
 * Opens connections that never finish a handshake (one that sends nothing, or a record header promising a 512-byte
 * ClientHello and one byte of it) and times how long the sidecar takes to close each, sampling its memory meanwhile.
 */
async function stallHandshakes(
  name: string,
  port: number,
  count: number,
  pid: number,
  opening: Buffer | undefined,
): Promise<StalledHandshakes> {
  const rssBefore = await rssMiB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(async () => {
    rssPeak = Math.max(rssPeak, await rssMiB(pid).catch(() => 0));
  }, 100);
  const closeTimes: number[] = [];
  let closedByServer = 0;
  const sockets = Array.from(
    { length: count },
    () =>
      new Promise<void>((done) => {
        let opened = 0;
        let closed = false;
        const socket = connectTcp(port, "127.0.0.1", () => {
          opened = Date.now();
          if (opening) socket.write(opening);
        });
        // The sidecar closes with FIN (end) or RST (error); either counts, once.
        const closedBySidecar = () => {
          if (closed || opened === 0) return;
          closed = true;
          closedByServer++;
          closeTimes.push(Date.now() - opened);
          socket.destroy();
        };
        socket.on("data", () => {});
        socket.on("error", closedBySidecar);
        socket.on("end", closedBySidecar);
        socket.on("close", () => done());
        setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS + 10_000).unref();
      }),
  );
  await Promise.all(sockets);
  clearInterval(sampler);
  await sleep(500);
  closeTimes.sort((a, b) => a - b);
  return {
    name,
    opened: count,
    closedByServer,
    medianCloseMs: closeTimes[Math.floor(closeTimes.length / 2)] ?? Number.NaN,
    maxCloseMs: closeTimes.at(-1) ?? Number.NaN,
    rssBefore,
    rssPeak,
    rssAfter: await rssMiB(pid),
  };
}

function startSidecarProcess(config: string): ChildProcess {
  return spawn(process.execPath, sidecarProcessArgs(config), {
    stdio: "ignore",
    env: { ...process.env, LOG_LEVEL: "silent" },
  });
}

async function writeJson(path: string, value: unknown) {
  await writeFile(path, JSON.stringify(value));
  return path;
}

/** Runs every mutual-TLS case; `rounds` calls per case, `stalled` connections per stalled-handshake case. */
export async function runTlsCases(options: {
  work: string;
  app: string;
  rounds: number;
  stalled: number;
}): Promise<TlsResult> {
  const { consul, authority, trustDomain } = await startMeshConsul();
  const children: ChildProcess[] = [];
  try {
    await putIntention(consul, "*", "*", { Action: "deny" });
    await putIntention(consul, "bench-client", "echo", { Action: "allow" });
    await putIntention(consul, "l7-caller", "echo", {
      Permissions: [
        { Action: "deny", HTTP: { PathExact: `/${ECHO_SERVICE}/Write` } },
        { Action: "allow", HTTP: { PathPrefix: `/${ECHO_SERVICE}/` } },
      ],
    });
    const [inbound, echoAdmin, outbound, clientAdmin] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const consulConfig = { address: consul.address, checkIntervalMs: 1000 };
    const echo = startSidecarProcess(
      await writeJson(join(options.work, "echo-tls.json"), {
        service: "echo",
        inbound: { listen: `127.0.0.1:${inbound}`, app: options.app, services: [ECHO_SERVICE] },
        admin: { listen: `127.0.0.1:${echoAdmin}` },
        consul: consulConfig,
        tls: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
      }),
    );
    const client = startSidecarProcess(
      await writeJson(join(options.work, "bench-client-tls.json"), {
        service: "bench-client",
        outbound: { listen: `127.0.0.1:${outbound}` },
        admin: { listen: `127.0.0.1:${clientAdmin}` },
        consul: { ...consulConfig, register: false },
        upstreams: { echo: { services: [ECHO_SERVICE] } },
      }),
    );
    children.push(echo, client);
    await Promise.all([waitForPort(`127.0.0.1:${inbound}`), waitForPort(`127.0.0.1:${outbound}`)]);
    const caller = createClient(EchoService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${outbound}` }));
    await eventually(() => caller.echo({ message: "ready" }), 30_000);

    const pid = echo.pid as number;
    const rssBefore = await rssMiB(pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(async () => {
      rssPeak = Math.max(rssPeak, await rssMiB(pid).catch(() => 0));
    }, 200);
    const load = steadyLoad(() => caller.echo({ message: "well-behaved over mTLS" }, { timeoutMs: 5000 }));

    const spiffe = (service: string, domain = trustDomain) => `spiffe://${domain}/ns/default/dc/dc1/svc/${service}`;
    const ca = authority.rootPem;
    const foreign = await createTestAuthority({ trustDomain });
    const identities = {
      foreignCa: await foreign.issueLeaf({ spiffeId: spiffe("bench-client") }),
      expired: await authority.issueLeaf({
        spiffeId: spiffe("bench-client"),
        notBefore: new Date(Date.now() - 7_200_000),
        notAfter: new Date(Date.now() - 3_600_000),
      }),
      denied: await agentLeaf(consul, "intruder"),
      l7: await agentLeaf(consul, "l7-caller"),
      otherDomain: await authority.issueLeaf({ spiffeId: spiffe("bench-client", "other.consul") }),
    };
    const withLeaf = (leaf: { certPem: string; keyPem: string }) => ({ ca, cert: leaf.certPem, key: leaf.keyPem });
    const attempts: { name: string; attempt: (round: number) => Promise<string> }[] = [
      { name: "plaintext HTTP/2 (h2c) to the TLS port", attempt: () => grpcCall(inbound, "Echo") },
      {
        name: "HTTP/1.1 to the TLS port",
        attempt: async () =>
          describeRawAnswer(
            await rawExchange(inbound, Buffer.from("GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")),
          ),
      },
      { name: "TLS without a client certificate", attempt: () => grpcCall(inbound, "Echo", { ca }) },
      {
        name: "client certificate of another CA (same trust domain, bench-client)",
        attempt: () => grpcCall(inbound, "Echo", withLeaf(identities.foreignCa)),
      },
      {
        name: "expired client certificate of the mesh CA (bench-client)",
        attempt: () => grpcCall(inbound, "Echo", withLeaf(identities.expired)),
      },
      {
        name: "valid certificate of a service the intentions deny (intruder)",
        attempt: () => grpcCall(inbound, "Echo", withLeaf(identities.denied)),
      },
      {
        name: "method denied by an L7 intention (l7-caller calling Write)",
        attempt: () => grpcCall(inbound, "Write", withLeaf(identities.l7)),
      },
      {
        name: "SPIFFE ID of another trust domain, signed by the mesh CA",
        attempt: () => grpcCall(inbound, "Echo", withLeaf(identities.otherDomain)),
      },
      {
        name: "garbage after a TLS handshake record header",
        attempt: async (round) =>
          describeRawAnswer(
            await rawExchange(
              inbound,
              Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), seededBytes(64, round + 1)]),
            ),
          ),
      },
    ];
    const cases: TlsCase[] = [];
    for (const { name, attempt } of attempts) {
      const outcomes = new Map<string, number>();
      for (let round = 0; round < options.rounds; round++) {
        const outcome = await attempt(round);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      cases.push({ name, tried: options.rounds, outcomes });
    }
    // The same L7-allowed caller may still call the rest of the service: a check that the deny is per method.
    const l7Allowed = await grpcCall(inbound, "Echo", withLeaf(identities.l7));
    cases.push({ name: "the same l7-caller calling Echo (allowed)", tried: 1, outcomes: new Map([[l7Allowed, 1]]) });

    const stalled = [
      await stallHandshakes("TCP connections that never send a ClientHello", inbound, options.stalled, pid, undefined),
      await stallHandshakes(
        "handshakes stalled mid-ClientHello (record header for 512 bytes, 1 sent)",
        inbound,
        options.stalled,
        pid,
        Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
      ),
    ];
    const totals = await load.stop();
    clearInterval(sampler);
    const metrics = await (await fetch(`http://127.0.0.1:${echoAdmin}/metrics`)).text();
    const refused = [...metrics.matchAll(/^mesh_tls_connections_refused_total\{reason="([^"]+)"\} (\d+)$/gm)].map(
      (match) => `${match[1]} ${match[2]}`,
    );
    return {
      cases,
      stalled,
      load: totals,
      alive: echo.exitCode === null && client.exitCode === null,
      stillServes: (await caller.echo({ message: "after" })).message === "after",
      rss: { before: rssBefore, peak: rssPeak, after: await rssMiB(pid) },
      refused,
    };
  } finally {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    }
    await consul.stop();
  }
}

const cell = (text: string) => text.replaceAll("|", "\\|");

/** The markdown section of the report. */
export function tlsReport(result: TlsResult, quick: boolean): string[] {
  const f = (value: number) => (Number.isNaN(value) ? "-" : value.toFixed(0));
  return [
    "## Mutual TLS: callers that are not trusted mesh services",
    "",
    `A sidecar with mesh TLS (identity \`echo\`, handshakeTimeoutMs ${HANDSHAKE_TIMEOUT_MS}) in front of the same echo app, its leaf and roots from a consul-dev`,
    "whose Connect CA root is a test authority (so the script can also sign leaves the agent would not: expired, another trust domain).",
    "Intentions: `*` -> `*` deny, `bench-client` -> `echo` allow, `l7-caller` -> `echo` deny `Write`, allow the rest of the service.",
    "Meanwhile a caller's sidecar (identity `bench-client`, from its bundle, discovering echo through consul-dev) keeps calling through it.",
    `Each case is tried ${quick ? "a few" : "many"} times on a fresh connection; every distinct outcome is listed with its count.`,
    "",
    "| what the hostile caller tried | tries | what it got |",
    "|---|---|---|",
    ...result.cases.map(
      (entry) =>
        `| ${cell(entry.name)} | ${entry.tried} | ${[...entry.outcomes]
          .map(([outcome, n]) => `${cell(outcome)} (${n})`)
          .join("; ")} |`,
    ),
    "",
    `| handshakes that never finish | opened | closed by the sidecar | median / max time to close (ms) | sidecar RSS before / peak / after (MiB) |`,
    "|---|---|---|---|---|",
    ...result.stalled.map(
      (entry) =>
        `| ${entry.name} | ${entry.opened} | ${entry.closedByServer} | ${f(entry.medianCloseMs)} / ${f(entry.maxCloseMs)} | ${f(entry.rssBefore)} / ${f(entry.rssPeak)} / ${f(entry.rssAfter)} |`,
    ),
    "",
    `| outcome | mTLS sidecar |`,
    "|---|---|",
    `| still running afterwards | ${result.alive ? "yes" : "NO"} |`,
    `| resident memory before / peak / after (MiB) | ${f(result.rss.before)} / ${f(result.rss.peak)} / ${f(result.rss.after)} |`,
    `| answers the well-behaved caller afterwards | ${result.stillServes ? "yes" : "NO"} |`,
    `| \`mesh_tls_connections_refused_total\` by reason | ${result.refused.join(", ") || "-"} |`,
    "",
    `Well-behaved calls through the caller's sidecar over mutual TLS meanwhile: ${result.load.calls} succeeded, ${result.load.failures} failed${result.load.errors.length ? ` (${result.load.errors.join("; ")})` : ""}.`,
  ];
}

/** Whether the sidecar closed every handshake that never finished, within handshakeTimeoutMs plus a second. */
export function stalledClosedInTime(result: TlsResult): boolean {
  return result.stalled.every(
    (entry) => entry.closedByServer === entry.opened && entry.maxCloseMs <= HANDSHAKE_TIMEOUT_MS + 1000,
  );
}

/** Whether the TLS half passed: nothing crashed, nothing well-behaved failed, every stalled handshake was closed in time. */
export function tlsPassed(result: TlsResult): boolean {
  return result.alive && result.stillServes && result.load.failures === 0 && stalledClosedInTime(result);
}
