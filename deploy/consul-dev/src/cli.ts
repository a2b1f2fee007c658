import { parseArgs } from "node:util";
import { startConsulDev } from "./agent.ts";
import { parseDuration } from "./duration.ts";

const USAGE = `usage: consul-dev [--bind 127.0.0.1] [--port 8500] [--node <name>] [--datacenter dc1]
                  [--cluster-id <uuid>] [--trust-domain <domain>] [--leaf-cert-ttl 72h]

A Consul-compatible development agent: the HTTP API subset the mesh uses (agent, health, catalog, KV, status,
Connect CA and intentions), blocking queries, and the checks it runs itself. Intentions are written either per pair
(/v1/connect/intentions/exact) or as service-intentions config entries (PUT /v1/config, as \`consul config write\` does;
GET/DELETE /v1/config/service-intentions/<destination>), one store both ways; service-defaults entries (Name,
Protocol) are stored too. The CA lives in memory: a new cluster id (trust domain <cluster-id>.consul) and root at
each start unless --cluster-id or --trust-domain fix them.
--leaf-cert-ttl is a Go duration; under 1h it also lowers the minimum the CA configuration accepts.
Status page at /ui. Stop with Ctrl-C.`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        bind: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8500" },
        node: { type: "string" },
        datacenter: { type: "string", default: "dc1" },
        "cluster-id": { type: "string" },
        "trust-domain": { type: "string" },
        "leaf-cert-ttl": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`consul-dev: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`consul-dev: --port must be a port number, got "${values.port}"`);
  process.exit(2);
}
let leafCertTtlMs: number | undefined;
try {
  leafCertTtlMs = parseDuration(values["leaf-cert-ttl"]);
} catch (error) {
  console.error(`consul-dev: --leaf-cert-ttl: ${(error as Error).message}`);
  process.exit(2);
}
if (leafCertTtlMs !== undefined && leafCertTtlMs <= 0) {
  console.error("consul-dev: --leaf-cert-ttl must be positive");
  process.exit(2);
}
try {
  const agent = await startConsulDev({
    bind: values.bind,
    port,
    nodeName: values.node,
    datacenter: values.datacenter,
    clusterId: values["cluster-id"],
    trustDomain: values["trust-domain"],
    leafCertTtlMs,
  });
  process.stdout.write(`consul-dev listening on ${agent.url} (status page ${agent.url}/ui)\n`);
  const stop = () => agent.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  console.error(`consul-dev: ${(error as Error).message}`);
  process.exit(1);
}
