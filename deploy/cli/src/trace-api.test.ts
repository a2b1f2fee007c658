import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.ts";
import { fetchTraces, isTraceId, NotFound } from "./trace-api.ts";
import { TRACE, TRACE_ID } from "./trace-fixture.ts";

const CLI = resolve(import.meta.dirname, "../bin/mesh.js");
const ORDER = "9b2e6a52-58c4-4c3e-9c2e-1f0c9d6c0a11";
const orderTags = JSON.stringify({ "shop.order_id": ORDER });

/** Answers as the dashboard does (service optional), or as Jaeger does (service required). */
function traceApi(requireService: boolean) {
  return fakeServer((url) => {
    if (url.pathname === `/api/traces/${TRACE_ID}`) return { body: { data: [TRACE] } };
    if (url.pathname !== "/api/traces") return undefined;
    if (requireService && !url.searchParams.get("service"))
      return { status: 400, body: { data: null, errors: [{ code: 400, msg: "parameter 'service' is required" }] } };
    const data = url.searchParams.get("tags") === orderTags ? [TRACE] : [];
    return { body: { data, total: data.length, limit: 0, offset: 0, errors: null } };
  });
}

const saved = process.env.MESH_TRACES_URL;
afterEach(() => {
  process.env.MESH_TRACES_URL = saved;
});

describe("the trace API client", () => {
  it("takes 32 hex digits for a trace id and anything else for an order id", () => {
    expect(isTraceId(TRACE_ID)).toBe(true);
    expect(isTraceId(TRACE_ID.toUpperCase())).toBe(true);
    expect(isTraceId(ORDER)).toBe(false);
    expect(isTraceId(TRACE_ID.slice(0, 16))).toBe(false);
  });

  it("fetches a trace by id, and an order's traces by tag without a service from the dashboard", async () => {
    const server = await traceApi(false);
    process.env.MESH_TRACES_URL = `${server.url}/`;
    try {
      expect((await fetchTraces(TRACE_ID)).map((trace) => trace.traceID)).toEqual([TRACE_ID]);
      expect(await fetchTraces(ORDER)).toHaveLength(1);
      expect(server.requests.at(-1)).toBe(`/api/traces?tags=${encodeURIComponent(orderTags)}&limit=20`);
    } finally {
      await server.close();
    }
  });

  it("asks again with the order service when the server demands one, as Jaeger does", async () => {
    const server = await traceApi(true);
    process.env.MESH_TRACES_URL = server.url;
    try {
      expect(await fetchTraces(ORDER)).toHaveLength(1);
      expect(server.requests).toHaveLength(2);
      expect(new URL(server.requests[1] as string, server.url).searchParams.get("service")).toBe("order");
    } finally {
      await server.close();
    }
  });

  it("says not found for an unknown trace id or an order without traces", async () => {
    const server = await traceApi(true);
    process.env.MESH_TRACES_URL = server.url;
    try {
      await expect(fetchTraces("0".repeat(32))).rejects.toThrow(NotFound);
      await expect(fetchTraces("no-such-order")).rejects.toThrow(
        `no trace has shop.order_id=no-such-order at ${server.url}`,
      );
    } finally {
      await server.close();
    }
  });
});

describe("mesh trace", () => {
  const mesh = (env: Record<string, string>, ...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("prints an order's trace as a waterfall", async () => {
    const server = await traceApi(true);
    try {
      const { code, stdout } = await mesh({ MESH_TRACES_URL: server.url }, "trace", ORDER);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^trace ${TRACE_ID} `));
      expect(stdout).toContain("· retry.backoff +2.50ms");
    } finally {
      await server.close();
    }
  }, 20_000);

  it("exits 1 naming the URL and the variable when the API is unreachable, or the trace is not found", async () => {
    const server = await traceApi(false);
    const url = server.url;
    try {
      const missing = await mesh({ MESH_TRACES_URL: url }, "trace", "f".repeat(32));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`mesh: trace ${"f".repeat(32)} not found at ${url}\n`);
    } finally {
      await server.close();
    }
    const down = await mesh({ MESH_TRACES_URL: url }, "trace", ORDER);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach the trace API at ${url} (set MESH_TRACES_URL`);
  }, 20_000);
});
