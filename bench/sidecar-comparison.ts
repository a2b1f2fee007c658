// Side-by-side cost of a mesh hop, in one run on one machine: the echo app called directly, through one and two
// sidecars, and through one and two nginx grpc_pass proxies; then two sidecars with mutual TLS between them (identities
// from consul-dev's Connect CA, calls authorized by intentions) against two nginx with TLS 1.3 and client certificates
// between them (leaves from the same CA). h2load (nghttp2) drives gRPC unary calls.
//
//   npm run bench:sidecar            full run (about 3 minutes), writes bench/results/sidecar-comparison.md
//   npm run bench:sidecar -- --quick a short run, for checking that the script works
//
// The load generator is pinned to CPU 0 and every server to CPU 1 (taskset), so they do not steal from each other.
// Figures drift between runs and machines: compare the ratios within one run, not absolute numbers across runs.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import {
  addr,
  checkEcho,
  checkPlaintext,
  grpcErrors,
  grpcStatuses,
  h2load,
  LOAD_CPU,
  PATH,
  type Proc,
  pinned,
  pinToLoadCpu,
  ROOT,
  requireTools,
  SERVER_CPU,
  sidecarInbound,
  sidecarOutbound,
  startEchoApp,
  startSidecar,
  stopAll,
  writeEchoFiles,
} from "./echo-mesh.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { rssMiB, waitForPort } from "./process-probes.ts";
import { publishReport } from "./publish-report.ts";

const quick = process.argv.includes("--quick");
const THROUGHPUT = { clients: 8, streams: 16, seconds: quick ? 3 : 10, warmUp: quick ? 1 : 2 };
const FIXED_RATE = { clients: 10, rpsPerClient: 100, seconds: quick ? 3 : 10 };

interface Topology {
  name: string;
  /** Where h2load sends requests. */
  entry: string;
  /** The proxy processes whose CPU and memory are measured. */
  proxies: Proc[];
  /** For sidecar paths: the entry sidecar's admin address, whose metrics count the gRPC statuses callers got. */
  admin?: string;
}

/** nginx with one upstream (keepalive) and one server block: `plain` proxies h2c to h2c, as the plaintext rows do. */
async function startNginx(work: string, name: string, listen: string, upstream: string, server = plainServer(listen)) {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `${kind}_temp_path ${dir}/${kind};`)
    .join(" ");
  const conf = `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; ${temp}
  upstream app { server ${upstream}; keepalive 64; keepalive_requests 1000000; }
  ${server}
}
`;
  await writeFile(join(dir, "nginx.conf"), conf);
  const proc = pinned(name, "nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
  await waitForPort(listen);
  return proc;
}

const plainServer = (listen: string) =>
  `server { listen ${listen} http2; keepalive_requests 1000000; location / { grpc_pass grpc://app; } }`;

/** Where nginx's TLS material lives: its certificate and key (leaves of the mesh CA) and the CA roots it trusts. */
interface NginxPems {
  cert: string;
  key: string;
  roots: string;
}

/**
 * The calling nginx: plaintext HTTP/2 in, TLS 1.3 out with its client certificate, verifying the next nginx's chain
 * against the mesh roots and its name against the DNS SAN of the echo service's leaf.
 */
const tlsClientServer = (listen: string, pems: NginxPems, serverName: string) =>
  `server {
    listen ${listen} http2; keepalive_requests 1000000;
    location / {
      grpc_pass grpcs://app;
      grpc_ssl_certificate ${pems.cert}; grpc_ssl_certificate_key ${pems.key};
      grpc_ssl_trusted_certificate ${pems.roots}; grpc_ssl_verify on; grpc_ssl_verify_depth 2;
      grpc_ssl_name ${serverName}; grpc_ssl_server_name on;
      grpc_ssl_protocols TLSv1.3; grpc_ssl_session_reuse on;
    }
  }`;

/** The app's nginx: TLS 1.3 in, requiring a client certificate of the mesh CA; plaintext h2c to the app. */
const tlsServerServer = (listen: string, pems: NginxPems) =>
  `server {
    listen ${listen} ssl http2; keepalive_requests 1000000;
    ssl_certificate ${pems.cert}; ssl_certificate_key ${pems.key};
    ssl_client_certificate ${pems.roots}; ssl_verify_client on; ssl_verify_depth 2;
    ssl_protocols TLSv1.3;
    location / { grpc_pass grpc://app; }
  }`;

/** The caller's sidecar with mesh TLS: identity bench-client, discovers echo through Consul, mutual TLS to it. */
const tlsSidecarOutbound = (listen: string, admin: string, consul: string) =>
  `service: bench-client\noutbound: { listen: "${listen}" }\nadmin: { listen: "${admin}" }\n` +
  `descriptors: [${tmpDescriptors}]\n` +
  `consul: { address: "${consul}", register: false }\ntls: { enabled: true }\n` +
  "upstreams:\n  echo:\n    services: [mesh.echo.v1.EchoService]\n";
/** The app's sidecar with mesh TLS: identity echo, registered in Consul, authorizing each call by intentions. */
const tlsSidecarInbound = (listen: string, admin: string, app: string, consul: string) =>
  `service: echo\ninbound: { listen: "${listen}", app: "${app}", services: [mesh.echo.v1.EchoService] }\n` +
  `admin: { listen: "${admin}" }\nconsul: { address: "${consul}", checkIntervalMs: 1000 }\ntls: { enabled: true }\n`;

/** The echo contract's descriptor set, written in the work directory. */
let tmpDescriptors = "";

function cpuTicks(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, "utf8").then((stat) => {
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  });
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  fixedP50: number;
  fixedP99: number;
  cpuUsPerRequest: number | undefined;
  rssAtFixedRate: number | undefined;
  rssAfterThroughput: number | undefined;
  failures: number;
  /** Calls answered with a gRPC status other than OK, and CANCELLED (h2load cancels its last calls at the end). */
  grpcErrors: string | undefined;
}

async function measure(topology: Topology, work: string, body: string): Promise<Row> {
  const entry = topology.entry;
  // Correctness first: a real gRPC client must get the right answer through this path.
  await checkEcho(topology.name, entry);
  // Calls made while waiting for the path to be ready (discovery) do not count against the run.
  const statusesBefore = topology.admin ? await grpcStatuses(topology.admin) : undefined;

  const fixed = await h2load(
    entry,
    body,
    [
      "-c",
      String(FIXED_RATE.clients),
      "-m",
      "1",
      "--rps",
      String(FIXED_RATE.rpsPerClient),
      "-D",
      String(FIXED_RATE.seconds),
    ],
    join(work, `${topology.name}-fixed.log`),
  );
  const rssAtFixedRate = await Promise.all(topology.proxies.map((proc) => rssMiB(proc.child.pid as number)));
  const before = await Promise.all(topology.proxies.map((proc) => cpuTicks(proc.child.pid as number)));
  const throughput = await h2load(
    entry,
    body,
    [
      "-c",
      String(THROUGHPUT.clients),
      "-m",
      String(THROUGHPUT.streams),
      "-D",
      String(THROUGHPUT.seconds),
      "--warm-up-time",
      String(THROUGHPUT.warmUp),
    ],
    join(work, `${topology.name}-throughput.log`),
  );
  const after = await Promise.all(topology.proxies.map((proc) => cpuTicks(proc.child.pid as number)));
  const rssAfterThroughput = await Promise.all(topology.proxies.map((proc) => rssMiB(proc.child.pid as number)));
  const ticks = after.reduce((sum, value, index) => sum + value - (before[index] ?? 0), 0);
  // Ticks are 1/100 s; the measured window includes the warm-up, whose requests h2load does not count.
  const window = THROUGHPUT.seconds + THROUGHPUT.warmUp;
  const cpuUs = topology.proxies.length
    ? (ticks * 10_000) / (throughput.rps * window) / topology.proxies.length
    : undefined;
  return {
    name: topology.name,
    rps: throughput.rps,
    p50: throughput.p50,
    p99: throughput.p99,
    fixedP50: fixed.p50,
    fixedP99: fixed.p99,
    cpuUsPerRequest: cpuUs,
    rssAtFixedRate: rssAtFixedRate.length ? Math.max(...rssAtFixedRate) : undefined,
    rssAfterThroughput: rssAfterThroughput.length ? Math.max(...rssAfterThroughput) : undefined,
    failures: throughput.failures + fixed.failures,
    grpcErrors: topology.admin ? await grpcErrors(topology.admin, statusesBefore) : undefined,
  };
}

// The sampled-out ratio first: the fully sampled row leaves the most spans to export after it.
const TRACING_RATIOS = ["0.01", "1.0"];
const tracedName = (ratio: string) => `sidecar x2 traced ${ratio}`;

/** Two sidecars (caller's and app's) exporting their spans at `ratio` to the OTLP endpoint. */
async function startTracedPair(work: string, ratio: string, app: string, descriptors: string, endpoint: string) {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: ratio,
    // A queue deep enough that no span is dropped at full throughput: dropping would hide the cost.
    OTEL_BSP_MAX_QUEUE_SIZE: "200000",
  };
  const [out, outAdmin, inbound, inboundAdmin] = (await Promise.all(Array.from({ length: 4 }, addr))) as [
    string,
    string,
    string,
    string,
  ];
  const server = await startSidecar(
    work,
    `sidecar-traced-${ratio}-inbound`,
    `service: echo\n${sidecarInbound(inbound, inboundAdmin, app)}`,
    inbound,
    { env },
  );
  const client = await startSidecar(
    work,
    `sidecar-traced-${ratio}-outbound`,
    `service: bench-client\n${sidecarOutbound(out, outAdmin, inbound, descriptors)}`,
    out,
    { env },
  );
  const topology: Topology = { name: tracedName(ratio), entry: out, proxies: [client, server], admin: outAdmin };
  return { topology };
}

/** Each traced row against the same path untraced. */
function tracingCost(rows: Row[]): string {
  const plain = rows.find((row) => row.name === "sidecar x2");
  const lines = [];
  for (const ratio of TRACING_RATIOS) {
    const traced = rows.find((row) => row.name === tracedName(ratio));
    if (!plain?.cpuUsPerRequest || !traced?.cpuUsPerRequest) continue;
    lines.push(
      `Tracing at ratio ${ratio} costs ${f(traced.cpuUsPerRequest - plain.cpuUsPerRequest, 0)} µs CPU per request per sidecar ` +
        `(${f(traced.cpuUsPerRequest / plain.cpuUsPerRequest)}x the untraced sidecar x2), ${f(traced.rps / plain.rps)}x its throughput, ` +
        `and ${f(traced.fixedP50 - plain.fixedP50)} / ${f(traced.fixedP99 - plain.fixedP99)} ms p50 / p99 at 1000 req/s.`,
    );
  }
  return lines.join("\n");
}

const f = (value: number | undefined, digits = 2) =>
  value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);

function table(rows: Row[]): string {
  const direct = rows.find((row) => row.name === "direct") as Row;
  // Each sidecar row is compared with the nginx row of the same shape ("sidecar x2 mTLS" with "nginx x2 TLS"), the
  // one-hop floor with one nginx.
  const peerName = (name: string) =>
    name.startsWith("bare relay")
      ? "nginx x1"
      : name
          .replace("sidecar", "nginx")
          .replace("mTLS", "TLS")
          .replace(/ traced .*$/, "");
  const peer = (row: Row) => rows.find((other) => other.name === peerName(row.name));
  const lines = [
    "| path | req/s (c=128) | p50 ms | p99 ms | p50 ms @1000 rps | p99 ms @1000 rps | added p50 / p99 ms @1000 rps | proxy CPU µs/req (each) | vs nginx CPU | proxy RSS MiB @1000 rps / after c=128 | HTTP failures | gRPC errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const nginx = peer(row);
    const cpuRatio =
      row.cpuUsPerRequest && nginx?.cpuUsPerRequest && !row.name.startsWith("nginx")
        ? `${f(row.cpuUsPerRequest / nginx.cpuUsPerRequest)}x`
        : "-";
    lines.push(
      `| ${row.name} | ${f(row.rps, 0)} (${f(row.rps / direct.rps)}x) | ${f(row.p50)} | ${f(row.p99)} | ${f(row.fixedP50)} | ${f(row.fixedP99)} | ` +
        `${row.name === "direct" ? "-" : `+${f(row.fixedP50 - direct.fixedP50)} / +${f(row.fixedP99 - direct.fixedP99)}`} | ` +
        `${f(row.cpuUsPerRequest, 0)} | ${cpuRatio} | ${f(row.rssAtFixedRate, 0)} / ${f(row.rssAfterThroughput, 0)} | ${row.failures} | ${row.grpcErrors ?? "-"} |`,
    );
  }
  return lines.join("\n");
}

/**
 * consul-dev with its Connect CA (in this process, on the load generator's CPU), intentions, the two sidecars with
 * mesh TLS and the two nginx with TLS between them, each pair in front of the same app.
 */
async function startTlsPaths(work: string, appAddress: string) {
  const { startConsulDev } = await import("@mesh/consul-dev");
  const { agentLeaf, consulJson, eventually, putIntention } = await import("../sidecar/test/mesh-tls.ts");
  const consul = await startConsulDev({ port: 0 });
  stops.push(() => consul.stop());
  await putIntention(consul, "*", "*", { Action: "deny" });
  await putIntention(consul, "bench-client", "echo", { Action: "allow" });
  const { Roots, TrustDomain } = await consulJson<{ Roots: { RootCert: string }[]; TrustDomain: string }>(
    consul,
    "/v1/agent/connect/ca/roots",
  );
  const serverName = `echo.svc.default.${TrustDomain.slice(0, 8)}.consul`;
  const roots = join(work, "mesh-roots.pem");
  await writeFile(roots, Roots.map((root) => root.RootCert).join("\n"));
  const writeLeaf = async (service: string): Promise<NginxPems> => {
    const leaf = await agentLeaf(consul, service);
    const cert = join(work, `${service}.pem`);
    const key = join(work, `${service}-key.pem`);
    await writeFile(cert, leaf.certPem);
    await writeFile(key, leaf.keyPem, { mode: 0o600 });
    return { cert, key, roots };
  };

  const [echoIn, echoAdmin, clientOut, clientAdmin, nginxA, nginxB] = (await Promise.all(
    Array.from({ length: 6 }, addr),
  )) as [string, string, string, string, string, string];
  const echoSidecar = await startSidecar(
    work,
    "sidecar-tls-inbound",
    tlsSidecarInbound(echoIn, echoAdmin, appAddress, consul.address),
    echoIn,
  );
  const clientSidecar = await startSidecar(
    work,
    "sidecar-tls-outbound",
    tlsSidecarOutbound(clientOut, clientAdmin, consul.address),
    clientOut,
  );
  const procs = [echoSidecar, clientSidecar];
  const nginxServer = await startNginx(
    work,
    "nginx-tls-b",
    nginxB,
    appAddress,
    tlsServerServer(nginxB, await writeLeaf("echo")),
  );
  procs.push(nginxServer);
  const nginxClient = await startNginx(
    work,
    "nginx-tls-a",
    nginxA,
    nginxB,
    tlsClientServer(nginxA, await writeLeaf("nginx-client"), serverName),
  );
  procs.push(nginxClient);
  // The caller's sidecar learns of echo once echo's check passes in Consul.
  const client = createClient(EchoService, createGrpcTransport({ baseUrl: `http://${clientOut}` }));
  await eventually(() => client.echo({ message: "ready" }), 30_000);
  for (const admin of [echoAdmin, clientAdmin]) {
    const certs = (await (await fetch(`http://${admin}/certs`)).json()) as { tls?: string };
    if (certs.tls !== "mutual") throw new Error(`the sidecar at ${admin} is not on mutual TLS (${certs.tls})`);
  }
  const topologies: Topology[] = [
    { name: "sidecar x2 mTLS", entry: clientOut, proxies: [clientSidecar, echoSidecar], admin: clientAdmin },
    { name: "nginx x2 TLS", entry: nginxA, proxies: [nginxClient, nginxServer] },
  ];
  return { procs, topologies, serverName };
}

/** Stops what is not a child process (consul-dev), after the children. */
const stops: (() => Promise<void>)[] = [];

async function main() {
  await requireTools(["h2load", "nginx", "taskset"]);
  // This process (h2load's parent, and consul-dev) stays on the load generator's CPU, off the servers' one.
  await pinToLoadCpu();
  const work = await mkdtemp(join(tmpdir(), "mesh-bench-"));
  const { descriptors, body, bodyBytes } = await writeEchoFiles(work);
  tmpDescriptors = descriptors;

  const procs: Proc[] = [];
  try {
    const { proc: app, address: appAddress } = await startEchoApp();
    procs.push(app);

    const [sideOut1, sideAdmin1, sideOut2, sideAdmin2, sideIn2, sideAdmin3] = await Promise.all(
      Array.from({ length: 6 }, addr),
    );
    const one = await startSidecar(
      work,
      "sidecar-one",
      sidecarOutbound(sideOut1 as string, sideAdmin1 as string, appAddress, descriptors),
      sideOut1 as string,
    );
    const inbound = await startSidecar(
      work,
      "sidecar-inbound",
      sidecarInbound(sideIn2 as string, sideAdmin3 as string, appAddress),
      sideIn2 as string,
    );
    const outbound = await startSidecar(
      work,
      "sidecar-outbound",
      sidecarOutbound(sideOut2 as string, sideAdmin2 as string, sideIn2 as string, descriptors),
      sideOut2 as string,
    );
    // The floor: frames parsed and header blocks decoded by the sidecar's own HTTP/2 layer, bytes passed on as they
    // are (bench/bare-relay.ts). It runs through tsx, so its memory includes the TypeScript loader.
    const relayListen = await addr();
    const relay = pinned("bare-relay", process.execPath, [
      "--import",
      "tsx",
      join(ROOT, "bench/bare-relay.ts"),
      relayListen,
      appAddress,
    ]);
    procs.push(relay);
    await waitForPort(relayListen);
    const [nginx1Listen, nginx2aListen, nginx2bListen] = await Promise.all([addr(), addr(), addr()]);
    const nginx1 = await startNginx(work, "nginx-one", nginx1Listen, appAddress);
    const nginx2b = await startNginx(work, "nginx-two-b", nginx2bListen, appAddress);
    const nginx2a = await startNginx(work, "nginx-two-a", nginx2aListen, nginx2bListen);
    procs.push(one, inbound, outbound, nginx1, nginx2a, nginx2b);

    // The same two sidecars with tracing on, every call sampled (ratio 1.0) and one in a hundred (0.01).
    const sink = await startOtlpSink(PATH.slice(1));
    stops.push(sink.close);
    const traced: Topology[] = [];
    for (const ratio of TRACING_RATIOS) {
      const pair = await startTracedPair(work, ratio, appAddress, descriptors, sink.endpoint);
      procs.push(...pair.topology.proxies);
      traced.push(pair.topology);
    }

    const mesh = await startTlsPaths(work, appAddress);
    procs.push(...mesh.procs);
    await checkPlaintext([sideAdmin1, sideAdmin2, sideAdmin3] as string[]);

    const topologies: Topology[] = [
      { name: "direct", entry: appAddress, proxies: [] },
      { name: "bare relay (floor)", entry: relayListen, proxies: [relay] },
      { name: "sidecar x1", entry: sideOut1 as string, proxies: [one], admin: sideAdmin1 as string },
      { name: "sidecar x2", entry: sideOut2 as string, proxies: [outbound, inbound], admin: sideAdmin2 as string },
      ...traced,
      { name: "nginx x1", entry: nginx1Listen, proxies: [nginx1] },
      { name: "nginx x2", entry: nginx2aListen, proxies: [nginx2a, nginx2b] },
      ...mesh.topologies,
    ];
    const rows: Row[] = [];
    for (const topology of topologies) {
      console.error(`measuring ${topology.name}...`);
      rows.push(await measure(topology, work, body));
      if (traced.includes(topology)) await sink.quiet(2000);
    }
    const report = [
      "# Sidecar hop cost, measured side by side",
      "",
      `Produced by \`npm run bench:sidecar${quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ` +
        `${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, nginx 1.22 (\`grpc_pass\`, keepalive upstream), h2load.`,
      "",
      `Load: gRPC unary \`${PATH}\` with a ${bodyBytes}-byte request. Throughput: ${THROUGHPUT.clients} connections x ${THROUGHPUT.streams} streams ` +
        `for ${THROUGHPUT.seconds} s after ${THROUGHPUT.warmUp} s warm-up. Fixed rate: ${FIXED_RATE.clients} connections x ${FIXED_RATE.rpsPerClient} req/s = ` +
        `${FIXED_RATE.clients * FIXED_RATE.rpsPerClient} req/s for ${FIXED_RATE.seconds} s. h2load on CPU ${LOAD_CPU}; app and proxies share CPU ${SERVER_CPU}.`,
      "Sidecars run with every policy on at its defaults (deadline, bulkhead, circuit breaker, retries with budget, outlier detection, metrics).",
      "CPU per request is per proxy process over the throughput run. RSS is the largest proxy's, after the 1000 req/s run and after the throughput run.",
      "gRPC errors: non-OK statuses the entry sidecar answered (its metrics; CANCELLED excluded, h2load cancels its last calls). h2load sees only HTTP statuses.",
      "",
      "The plaintext sidecar rows have no `consul` section, so mesh TLS is off (each one's admin `/certs` answered `tls: off` before the run).",
      "**mTLS rows.** `sidecar x2 mTLS`: h2load -> the caller's sidecar (identity `bench-client`, outbound) -> mutual TLS 1.3 -> the app's sidecar " +
        "(identity `echo`, inbound) -> app. Both take their leaves and roots from a consul-dev started by this script (its Connect CA), " +
        "the caller discovers echo through it, and every call is authorized by intentions (`*` -> `*` deny, `bench-client` -> `echo` allow). " +
        "`nginx x2 TLS`: nginx 1 (plaintext HTTP/2 in) -> `grpc_pass grpcs://` with a client certificate, `grpc_ssl_verify on`, TLSv1.3 -> " +
        `nginx 2 (\`listen ssl http2\`, \`ssl_verify_client on\`, TLSv1.3) -> \`grpc_pass grpc://\` to the app. nginx's certificates are leaves of the same CA ` +
        `(\`nginx-client\` and \`echo\`); nginx 1 verifies nginx 2's chain and its name (\`grpc_ssl_name ${mesh.serverName}\`, the DNS SAN of echo's leaf). ` +
        "nginx 2 checks only that the client chains to the CA: it does no per-caller authorization, the sidecar checks intentions on every call. " +
        "Both keep their TLS connections open (keepalive), so the figures are the steady cost of encryption and authorization, not of handshakes.",
      "**Traced rows.** `sidecar x2 traced <ratio>`: the `sidecar x2` path with tracing on in both sidecars " +
        "(`OTEL_TRACES_SAMPLER=parentbased_traceidratio`; at 1.0 every call is sampled and makes three spans, the caller's client and attempt spans " +
        "and the app's sidecar's server span; at 0.01 one call in a hundred), batched with the SDK's defaults and exported over OTLP/HTTP protobuf to a sink in this script that only counts " +
        `(queue deep enough that nothing is dropped): it received ${sink.counts.spans} spans in ${sink.counts.requests} exports ` +
        `(${(sink.counts.bytes / 2 ** 20).toFixed(1)} MiB). Their CPU and latency are compared with \`sidecar x2\` below the table.`,
      "",
      table(rows),
      "",
      tracingCost(rows),
      "",
    ].join("\n");
    // One results file per Node major version (Node 20 keeps the plain name), so a run on another Node keeps both.
    const major = process.versions.node.split(".")[0];
    await publishReport(major === "20" ? "sidecar-comparison" : `sidecar-comparison-node${major}`, report, !quick);
  } finally {
    await stopAll(procs);
    for (const stop of stops) await stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
