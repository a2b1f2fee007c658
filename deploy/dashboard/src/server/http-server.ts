// The dashboard's HTTP surface: the OTLP receiver, the Jaeger query API subset, /api/mesh, /api/sagas and the page.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { badRequest, listResponse, parseTraceQuery, TRACE_NOT_FOUND, toJaegerTrace } from "../api/jaeger.ts";
import type { MeshScraper } from "../mesh/scraper.ts";
import type { SagaWatch } from "../sagas/saga-watch.ts";
import type { TraceStore } from "../store/trace-store.ts";
import { receiveTraces } from "./receiver.ts";
import { staticFile } from "./static.ts";

export interface DashboardServerOptions {
  store: TraceStore;
  scraper: MeshScraper;
  sagas: SagaWatch;
  bodyLimit: number;
}

function json(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  response.end(body);
}

function text(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(`${body}\n`);
}

async function route(options: DashboardServerOptions, request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://dashboard");
  const path = url.pathname;
  if (path === "/v1/traces") {
    if (request.method !== "POST") return text(response, 405, "POST OTLP/HTTP trace exports here");
    return receiveTraces(request, response, options.store, options.bodyLimit);
  }
  if (request.method !== "GET" && request.method !== "HEAD") return text(response, 405, "only GET");
  if (path === "/api/services") return json(response, 200, listResponse(options.store.services()));
  if (path === "/api/traces") {
    const query = parseTraceQuery(url.searchParams, Date.now() * 1000);
    if ("error" in query) return json(response, 400, badRequest(query.error));
    const { traces, total } = options.store.search(query);
    return json(response, 200, listResponse(traces.map(toJaegerTrace), total));
  }
  if (path.startsWith("/api/traces/")) {
    const trace = options.store.get(decodeURIComponent(path.slice("/api/traces/".length)));
    return trace ? json(response, 200, listResponse([toJaegerTrace(trace)])) : json(response, 404, TRACE_NOT_FOUND);
  }
  if (path === "/api/mesh") {
    return json(response, 200, { ...options.scraper.snapshot(), traces: options.store.stats() });
  }
  if (path === "/api/sagas") return json(response, 200, options.sagas.snapshot());
  const file = await staticFile(path);
  if (!file) return text(response, 404, "not found; the page is at /, the API under /api/ and /v1/traces");
  response.writeHead(200, { "content-type": file.contentType, "content-length": file.body.length });
  response.end(request.method === "HEAD" ? undefined : file.body);
}

export function createDashboardServer(options: DashboardServerOptions): Server {
  return createServer((request, response) => {
    route(options, request, response).catch((error: unknown) => {
      // A bug answers 500 and the server keeps serving.
      if (!response.headersSent) text(response, 500, `internal error: ${(error as Error).message}`);
      else response.destroy();
    });
  });
}
