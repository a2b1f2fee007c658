import { parseArgs } from "node:util";
import { call, DEFAULT_IDENTITY, saga, services, stats, stuckSagas } from "./commands.ts";
import { DEFAULT_NATS_URL, dlqDrop, dlqList, dlqReplay, dlqReplayAll, dlqShow } from "./dlq.ts";
import { checkIntention, deleteIntention, listIntentions, setIntention } from "./intentions.ts";
import { stat } from "./stat.ts";
import { top } from "./top.ts";
import { DEFAULT_TRACES_URL, fetchTraces } from "./trace-api.ts";
import { type StatView, VIEWS } from "./views.ts";
import { formatTraces } from "./waterfall.ts";

const USAGE = `usage: mesh <command> [options]

  services                         instances and health, from Consul
  call <pkg.Service/Method> [json] a call through reflection, JSON in and out
       [--to host:port [--authority <service>]] [--as <identity>] [-H 'name: value']... [--deadline <ms>]
  intentions                       who may call whom (Consul intentions), highest precedence first
  intentions allow|deny <source> <destination> [--method /pkg.Service/Method]
  intentions delete <source> <destination>
  intentions check <source> <destination> [--method /pkg.Service/Method]
  stats                            each sidecar's upstreams: breaker, endpoints, calls in flight
  stat [--by edge|method|service] [--window <seconds>]
                                   request rate, success rate, p50/p95/p99 latency per caller -> callee edge
                                   (default), per method of each edge, or per service, over a window (default 5 s)
  top [--by edge|method|service] [--interval <seconds>] [--iterations <n>]
                                   mesh stat redrawn every interval (default 2 s), busiest first, by method
                                   (default); until Ctrl-C, or for n frames
  trace <orderId|traceId>          a trace as a waterfall: each span under its parent, its duration on the trace's
                                   time axis, its gRPC status, and its events (retries, breaker) beneath; with an
                                   order id, every trace with a span tagged shop.order_id
  saga <orderId> [--to host:port]  an order's saga timeline
  saga --stuck [--to host:port]    sagas past their deadline that are not final: order, status, what each waits
                                   for, and for how long (the order service's ListStuckOrders)
  dlq list [--consumer <name>]     dead letters, oldest first: seq, consumer, subject, order, deliveries, age, reason
  dlq show <seq>                   a dead letter's headers, reason and payload (the event as JSON)
  dlq replay <seq> | --consumer <name> --all
                                   publish the event again on its original subject, with its event id (so each
                                   consumer applies it at most once), and delete the dead letter; or every one of
                                   a consumer's
  dlq drop <seq> --yes             delete a dead letter for good

Consul is found at CONSUL_HTTP_ADDR (default 127.0.0.1:8500), with CONSUL_HTTP_TOKEN if set.
Without --to, calls go to a healthy instance (its sidecar's inbound listener) that serves the service; when it takes
only mutual TLS, the call is made as the mesh identity --as (default ${DEFAULT_IDENTITY}), with a certificate from the
Consul agent, and the intentions decide. With --to (a sidecar's loopback outbound listener, say) the call is
plaintext, and --authority names the mesh service that listener should route to.
stat and top read every sidecar's /metrics (the instances in Consul). trace reads the trace API at MESH_TRACES_URL
(default ${DEFAULT_TRACES_URL}, Jaeger's query port): the local mesh's dashboard, or Jaeger itself.
dlq reads the dead-letter stream (SHOP_DEAD_LETTERS) of the NATS at NATS_URL (default ${DEFAULT_NATS_URL}); a dead
letter's id is its sequence there.`;

function headersFrom(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const value of values) {
    const colon = value.indexOf(":");
    if (colon <= 0) throw new Error(`-H expects 'name: value', got "${value}"`);
    headers[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
  }
  return headers;
}

function viewOf(value: string | undefined): StatView {
  if (!VIEWS.includes(value as StatView))
    throw new UsageError(`--by must be one of ${VIEWS.join(", ")}; got "${value}"`);
  return value as StatView;
}

function positiveNumber(name: string, value: string, what: string): number {
  const number = Number(value);
  if (!(number > 0)) throw new UsageError(`--${name} must be ${what}, got "${value}"`);
  return number;
}

/** `mesh top` until its frames are drawn or Ctrl-C, which stops it cleanly (exit code 0). */
async function runTop(view: StatView, intervalSeconds: number, iterations: number | undefined): Promise<undefined> {
  const interrupted = new AbortController();
  const stop = () => interrupted.abort();
  process.once("SIGINT", stop);
  try {
    await top({ view, intervalSeconds, iterations, out: process.stdout, signal: interrupted.signal });
  } finally {
    process.off("SIGINT", stop);
  }
  return undefined;
}

/** The command's output, or undefined when it wrote its own (mesh top). */
async function run(argv: string[]): Promise<string | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      to: { type: "string" },
      authority: { type: "string" },
      as: { type: "string" },
      method: { type: "string" },
      header: { type: "string", short: "H", multiple: true, default: [] },
      deadline: { type: "string" },
      by: { type: "string" },
      window: { type: "string", default: "5" },
      interval: { type: "string", default: "2" },
      iterations: { type: "string" },
      stuck: { type: "boolean" },
      consumer: { type: "string" },
      all: { type: "boolean" },
      yes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) return USAGE;
  switch (command) {
    case "services":
      return services();
    case "stats":
      return stats();
    case "stat":
      return stat(viewOf(values.by ?? "edge"), positiveNumber("window", values.window, "seconds"));
    case "top": {
      const iterations =
        values.iterations === undefined ? undefined : positiveNumber("iterations", values.iterations, "a count");
      if (iterations !== undefined && !Number.isInteger(iterations))
        throw new UsageError(`--iterations must be a whole number, got "${values.iterations}"`);
      return runTop(viewOf(values.by ?? "method"), positiveNumber("interval", values.interval, "seconds"), iterations);
    }
    case "trace": {
      const [id] = rest;
      if (!id) throw new UsageError("trace needs <orderId> or <traceId> (32 hex digits)");
      return formatTraces(await fetchTraces(id));
    }
    case "call": {
      const [method, json] = rest;
      if (!method) throw new UsageError("call needs <pkg.Service/Method>");
      const deadlineMs = values.deadline === undefined ? undefined : Number(values.deadline);
      if (deadlineMs !== undefined && !(deadlineMs > 0))
        throw new UsageError(`--deadline must be milliseconds, got "${values.deadline}"`);
      return call({
        method,
        json: json ?? "{}",
        target: values.to,
        authority: values.authority,
        identity: values.as,
        headers: headersFrom(values.header ?? []),
        deadlineMs,
      });
    }
    case "intentions":
      return intentions(rest, values.method);
    case "saga": {
      const [orderId] = rest;
      if (values.stuck) {
        if (orderId) throw new UsageError("saga takes <orderId> or --stuck, not both");
        return stuckSagas(values.to);
      }
      if (!orderId) throw new UsageError("saga needs <orderId> or --stuck");
      return saga(orderId, values.to);
    }
    case "dlq":
      return dlq(rest, values);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

class UsageError extends Error {}

/** A dead letter's sequence, as `mesh dlq` takes it. */
function sequence(action: string, value: string | undefined): number {
  const seq = Number(value);
  if (value === undefined || !Number.isSafeInteger(seq) || seq <= 0)
    throw new UsageError(`dlq ${action} needs <seq>, a dead letter's sequence (mesh dlq list shows them)`);
  return seq;
}

function dlq(
  [action, seq]: string[],
  options: { consumer?: string | undefined; all?: boolean | undefined; yes?: boolean | undefined },
): Promise<string> {
  switch (action) {
    case undefined:
    case "list":
      return dlqList(options.consumer);
    case "show":
      return dlqShow(sequence(action, seq));
    case "replay":
      if (!options.all) return dlqReplay(sequence(action, seq));
      if (seq !== undefined) throw new UsageError("dlq replay takes <seq> or --consumer <name> --all, not both");
      if (!options.consumer) throw new UsageError("dlq replay --all needs --consumer <name>");
      return dlqReplayAll(options.consumer);
    case "drop": {
      const which = sequence(action, seq);
      if (!options.yes) throw new Error(`dlq drop deletes dead letter ${which} for good and is refused without --yes`);
      return dlqDrop(which);
    }
    default:
      throw new UsageError(`unknown dlq action "${action}" (list, show, replay, drop)`);
  }
}

function intentions([action, source, destination]: string[], method: string | undefined): Promise<string> {
  if (!action || action === "list") return listIntentions();
  if (!source || !destination) throw new UsageError(`intentions ${action} needs <source> <destination>`);
  switch (action) {
    case "allow":
    case "deny":
      return setIntention(action, source, destination, method);
    case "delete":
      return deleteIntention(source, destination);
    case "check":
      return checkIntention(source, destination, method);
    default:
      throw new UsageError(`unknown intentions action "${action}" (list, allow, deny, delete, check)`);
  }
}

run(process.argv.slice(2)).then(
  (output) => {
    if (output !== undefined) process.stdout.write(`${output}\n`);
  },
  (error: unknown) => {
    const usage =
      error instanceof UsageError || String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
    console.error(`mesh: ${(error as Error).message}${usage ? `\n\n${USAGE}` : ""}`);
    process.exitCode = usage ? 2 : 1;
  },
);
