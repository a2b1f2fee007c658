import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { STATUS_PAGE } from "../ui/status-page.ts";
import { RequestError } from "./fields.ts";
import type { ConsulRequest, Reply } from "./query.ts";

export interface Route {
  method: string;
  /** An exact path... */
  path?: string;
  /** ...or a prefix, whose remainder (decoded) is the request's `rest`. */
  prefix?: string;
  handler: (request: ConsulRequest) => Reply | Promise<Reply>;
}

const MAX_BODY = 1024 * 1024;

function send(response: ServerResponse, reply: Reply) {
  const headers = { "X-Consul-Default-Acl-Policy": "allow", ...reply.headers };
  if (reply.raw) {
    response.writeHead(reply.status ?? 200, headers).end(reply.raw);
  } else if (reply.json !== undefined) {
    response
      .writeHead(reply.status ?? 200, { "Content-Type": "application/json", ...headers })
      .end(JSON.stringify(reply.json));
  } else {
    response
      .writeHead(reply.status ?? 200, { "Content-Type": "text/plain; charset=utf-8", ...headers })
      .end(reply.text ?? "");
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

/** Finds the route for a path: exact paths first, then the longest prefix; a path whose routes take other methods is 405. */
function match(routes: readonly Route[], method: string, path: string) {
  const exact = routes.filter((route) => route.path === path);
  const prefixed = routes
    .filter((route) => route.prefix && path.startsWith(route.prefix))
    .sort((a, b) => (b.prefix?.length ?? 0) - (a.prefix?.length ?? 0));
  const candidates = exact.length ? exact : prefixed;
  const route = candidates.find((each) => each.method === method);
  return { route, known: candidates.length > 0 };
}

/** Consul's HTTP API over node:http: errors are the status code with a plain-text reason, as Consul sends them. */
export function createConsulServer(routes: readonly Route[]): Server {
  return createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://consul");
    const method = request.method ?? "GET";
    if (url.pathname === "/ui" || url.pathname === "/ui/" || url.pathname === "/") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(STATUS_PAGE);
      return;
    }
    const { route, known } = match(routes, method, url.pathname);
    if (!route) {
      send(
        response,
        known ? { status: 405, text: `method ${method} not allowed` } : { status: 404, text: `404 page not found` },
      );
      return;
    }
    const abort = new AbortController();
    response.on("close", () => abort.abort());
    let rest = "";
    try {
      rest = route.prefix ? decodeURIComponent(url.pathname.slice(route.prefix.length)) : "";
    } catch {
      send(response, { status: 400, text: "Invalid URL path encoding" });
      return;
    }
    readBody(request)
      .then((body) => route.handler({ method, rest, query: url.searchParams, body, signal: abort.signal }))
      .then(
        (reply) => send(response, reply),
        (error: unknown) => {
          if (error instanceof RequestError) send(response, { status: error.status, text: error.message });
          else send(response, { status: 500, text: (error as Error).message });
        },
      );
  });
}
