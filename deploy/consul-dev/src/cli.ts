import { parseArgs } from "node:util";
import { startConsulDev } from "./agent.ts";

const USAGE = `usage: consul-dev [--bind 127.0.0.1] [--port 8500] [--node <name>] [--datacenter dc1]

A Consul-compatible development agent: the HTTP API subset the mesh uses (agent, health, catalog, KV, status),
blocking queries, and the checks it runs itself. Status page at /ui. Stop with Ctrl-C.`;

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        bind: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "8500" },
        node: { type: "string" },
        datacenter: { type: "string", default: "dc1" },
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
try {
  const agent = await startConsulDev({ bind: values.bind, port, nodeName: values.node, datacenter: values.datacenter });
  process.stdout.write(`consul-dev listening on ${agent.url} (status page ${agent.url}/ui)\n`);
  const stop = () => agent.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  console.error(`consul-dev: ${(error as Error).message}`);
  process.exit(1);
}
