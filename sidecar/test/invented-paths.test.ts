import { connect as connectHttp2 } from "node:http2";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MeshMetrics } from "../src/admin/metrics.ts";
import { parseConfig } from "../src/config/load.ts";
import { resolveUpstreamPolicy } from "../src/config/policy.ts";
import { MethodCatalog } from "../src/descriptors/method-catalog.ts";
import { createInboundListener, type InboundListener } from "../src/inbound/inbound-listener.ts";
import { Cluster } from "../src/outbound/cluster.ts";
import { createOutboundListener, type OutboundListener } from "../src/outbound/outbound-listener.ts";
import { Router } from "../src/outbound/router.ts";
import { type H2Server, listen } from "../src/proxy/h2-server.ts";
import { InFlight } from "../src/proxy/in-flight.ts";
import { SessionPool } from "../src/proxy/session-pool.ts";
import {
  ECHO_SERVICE,
  type EchoServer,
  echoClient,
  echoDescriptorSet,
  echoUpstream,
  startEchoServers,
} from "./harness.ts";

// Callers choose method paths: a sidecar must keep routes and metric series only for the contracts' methods, and
// count every other path under one `unknown` route, whatever the number of paths invented.

const INVENTED = 1000;

let app: EchoServer;
let metrics: MeshMetrics;
let inbound: InboundListener;
let outbound: OutboundListener;
let outboundAddress: string;
let pool: SessionPool;

beforeAll(async () => {
  [app] = (await startEchoServers(1)) as [EchoServer];
  const catalog = new MethodCatalog();
  catalog.addDescriptorSet(echoDescriptorSet());
  const log = pino({ level: "silent" });
  metrics = new MeshMetrics();
  pool = new SessionPool(1000);
  const inFlight = new InFlight();
  const inboundConfig = parseConfig({ inbound: { listen: "127.0.0.1:0", app: app.address } });
  inbound = createInboundListener({
    inbound: inboundConfig.inbound as NonNullable<typeof inboundConfig.inbound>,
    limits: inboundConfig.limits,
    pool,
    catalog,
    metrics,
    inFlight,
    log,
    draining: () => false,
  });
  const inboundPort = await listen(inbound.net, "127.0.0.1:0");
  const config = parseConfig({
    outbound: { listen: "127.0.0.1:0" },
    upstreams: echoUpstream([{ address: `127.0.0.1:${inboundPort}` }], {
      // Overrides naming methods the descriptor sets do not describe still apply to them.
      methods: {
        [`${ECHO_SERVICE}/Configured`]: { faults: { abort: { percent: 100, code: "UNAVAILABLE" } } },
        Named: { faults: { abort: { percent: 100, code: "ABORTED" } } },
      },
    }),
  });
  const cluster = new Cluster("echo", resolveUpstreamPolicy(config.defaults, config.upstreams.echo), metrics);
  cluster.setEndpoints([`127.0.0.1:${inboundPort}`]);
  outbound = createOutboundListener({
    config,
    router: new Router(config.upstreams),
    clusters: new Map([["echo", cluster]]),
    catalog,
    pool,
    metrics,
    inFlight,
    log,
  });
  outboundAddress = `127.0.0.1:${await listen(outbound.net, "127.0.0.1:0")}`;
});

function close(server: H2Server): Promise<void> {
  for (const connection of server.connections) connection.close();
  return new Promise((resolve) => server.net.close(() => resolve()));
}

afterAll(async () => {
  await Promise.all([close(outbound), close(inbound)]);
  pool.close();
  await app.shutdown(100);
});

/** Calls each path once through the outbound listener (an empty message), in batches; resolves with the statuses. */
async function callPaths(paths: readonly string[]): Promise<string[]> {
  const session = connectHttp2(`http://${outboundAddress}`);
  const statuses: string[] = [];
  try {
    for (let start = 0; start < paths.length; start += 50) {
      const batch = paths.slice(start, start + 50).map(
        (path) =>
          new Promise<string>((resolve, reject) => {
            const stream = session.request({
              ":method": "POST",
              ":path": path,
              "content-type": "application/grpc",
              te: "trailers",
            });
            let status = "";
            stream.on("response", (headers) => {
              status = String(headers["grpc-status"] ?? status);
            });
            stream.on("trailers", (trailers) => {
              status = String(trailers["grpc-status"] ?? status);
            });
            stream.on("data", () => {});
            stream.on("end", () => resolve(status));
            stream.on("error", reject);
            stream.end(Buffer.alloc(5));
          }),
      );
      statuses.push(...(await Promise.all(batch)));
    }
  } finally {
    session.close();
  }
  return statuses;
}

/** The samples of one metric family in the registry's exposition text. */
async function seriesOf(name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split("\n").filter((line) => line.startsWith(`${name}{`));
}

describe("method paths a caller invents", () => {
  it("leave the route caches and the metric series bounded: one unknown route and series per listener, overrides kept", async () => {
    await echoClient(outboundAddress).echo({});
    const known = { inbound: inbound.routeCount(), outbound: outbound.routeCount(), stats: metrics.routeCount };

    const paths = Array.from({ length: INVENTED }, (_, i) => `/${ECHO_SERVICE}/Invented${i}`);
    const statuses = await callPaths(paths);
    // The app does not know them: each reached it, and came back UNIMPLEMENTED (12).
    expect(statuses.filter((status) => status === "12")).toHaveLength(INVENTED);

    expect(outbound.routeCount()).toBe(known.outbound);
    expect(inbound.routeCount()).toBe(known.inbound);
    // One `unknown` route's statistics per direction, beside the ones the known method made.
    expect(metrics.routeCount).toBeLessThanOrEqual(known.stats + 2);

    const requests = await seriesOf("mesh_requests_total");
    expect(requests.filter((line) => line.includes("Invented"))).toEqual([]);
    expect(requests).toContain(
      'mesh_requests_total{direction="outbound",upstream="echo",method="unknown",code="12"} 1000',
    );
    expect(requests).toContain(
      'mesh_requests_total{direction="inbound",upstream="app",method="unknown",code="12"} 1000',
    );
    expect(requests).toContain('mesh_requests_total{direction="outbound",upstream="echo",method="Echo",code="0"} 1');
    expect(requests.length).toBeLessThanOrEqual(4);
    const durations = await seriesOf("mesh_request_duration_seconds_count");
    expect(durations).toHaveLength(4);

    // Overrides naming such methods still apply to them, through the same unknown route.
    const overridden = await callPaths([
      `/${ECHO_SERVICE}/Configured`,
      "/other.v1.Service/Named",
      `/${ECHO_SERVICE}/Named`,
    ]);
    // UNAVAILABLE (14) by the full name; ABORTED (10) by the method name, whatever the service. The service of the
    // second is routed nowhere: UNIMPLEMENTED (12) before any policy.
    expect(overridden).toEqual(["14", "12", "10"]);
    expect(outbound.routeCount()).toBe(1);
  });
});
