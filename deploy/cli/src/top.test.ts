import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.ts";
import { aggregate, parseRouteCounters } from "./golden-metrics.ts";
import { CLEAR, formatTop, render, topLines } from "./top-view.ts";
import { rowOf } from "./views.ts";

const CLI = resolve(import.meta.dirname, "../bin/mesh.js");

/** A sidecar's /metrics after `n` ticks: order -> inventory GetStock grows by 10 calls a tick, ReserveStock by 2. */
function metricsText(service: string, n: number): string {
  const route = (upstream: string, method: string, ok: number, failed: number) => [
    `mesh_requests_total{direction="outbound",upstream="${upstream}",method="${method}",code="0"} ${ok}`,
    `mesh_requests_total{direction="outbound",upstream="${upstream}",method="${method}",code="14"} ${failed}`,
    `mesh_request_duration_seconds_bucket{le="0.005",direction="outbound",upstream="${upstream}",method="${method}"} ${ok}`,
    `mesh_request_duration_seconds_bucket{le="+Inf",direction="outbound",upstream="${upstream}",method="${method}"} ${ok + failed}`,
  ];
  return service === "order"
    ? [...route("inventory", "GetStock", 10 * n, 0), ...route("inventory", "ReserveStock", n, n)].join("\n")
    : `mesh_requests_total{direction="inbound",upstream="app",method="GetStock",code="0"} ${10 * n}`;
}

describe("mesh top, pure parts", () => {
  const instances = [
    { id: "order-1", service: "order" },
    { id: "inventory-1", service: "inventory" },
    { id: "gone-1", service: "gone" },
  ];
  const reading = (n: number) =>
    new Map([
      ["order-1", parseRouteCounters(metricsText("order", n))],
      ["inventory-1", parseRouteCounters(metricsText("inventory", n))],
    ]);

  it("sums route differences into a view's rows and names sidecars it could not read", () => {
    const { rows, unreachable } = aggregate(instances, reading(1), reading(3), (instance, route) =>
      rowOf("method", instance.service, route),
    );
    expect(rows.map((row) => [row.columns.join(" "), row.window.calls, row.window.ok])).toEqual([
      ["order inventory GetStock", 20, 20],
      ["order inventory ReserveStock", 4, 2],
    ]);
    expect(unreachable).toEqual(["gone-1"]);
    const services = aggregate(instances, new Map(), reading(1), (instance, route) =>
      rowOf("service", instance.service, route),
    );
    expect(services.rows.map((row) => [row.columns, row.window.calls])).toEqual([[["inventory"], 10]]);
  });

  it("sorts busiest first and draws a frame with a status line, capped to the terminal's rows", () => {
    const { rows } = aggregate(instances.slice(0, 2), reading(1), reading(3), (instance, route) =>
      rowOf("method", instance.service, route),
    );
    const lines = topLines([...rows].reverse(), 2);
    expect(lines.map((line) => [line.columns[2], line.rps, line.success])).toEqual([
      ["GetStock", 10, 1],
      ["ReserveStock", 2, 0.5],
    ]);
    const frame = { view: "method" as const, lines, seconds: 2, at: new Date("2024-05-01T10:00:07Z"), sidecars: 2 };
    expect(formatTop({ ...frame, unreachable: ["gone-1"] })).toBe(
      [
        "mesh top  10:00:07  2 sidecars  over 2.0 s  (by method)",
        "",
        "from   to         method        rps   success  p50     p99",
        "order  inventory  GetStock      10.0  100.0%   2.50ms  4.95ms",
        // Half of ReserveStock's calls failed above the last finite bound: both percentiles cap at 5 ms.
        "order  inventory  ReserveStock  2.0   50.0%    5.00ms  5.00ms",
        "unreachable (metrics not read): gone-1",
      ].join("\n"),
    );
    expect(formatTop({ ...frame, unreachable: [], maxRows: 1 })).toMatch(/GetStock.*\n\.\.\. 1 more$/);
    expect(formatTop({ ...frame, lines: [], unreachable: [] })).toMatch(/\n\nno calls seen$/);
  });

  it("redraws in place on a terminal and prints blocks elsewhere", () => {
    expect(render("frame", true)).toBe(`${CLEAR}frame\n`);
    expect(render("frame", false)).toBe("frame\n\n");
  });
});

/** A Consul that lists one order sidecar, whose /metrics grows a tick each read. */
async function fakeMesh() {
  let ticks = 0;
  const sidecar = await fakeServer((url) =>
    url.pathname === "/metrics" ? { body: metricsText("order", ++ticks) } : undefined,
  );
  const port = Number(new URL(sidecar.url).port);
  const consul = await fakeServer((url) => {
    if (url.pathname === "/v1/catalog/services") return { body: { consul: [], order: [] } };
    if (url.pathname === "/v1/health/service/order")
      return {
        body: [
          {
            Node: { Address: "127.0.0.1" },
            Service: {
              ID: "order-1",
              Service: "order",
              Address: "127.0.0.1",
              Port: 1,
              Meta: { "admin-port": String(port) },
            },
            Checks: [{ Status: "passing", ServiceID: "order-1" }],
          },
        ],
      };
    return undefined;
  });
  return {
    env: { ...process.env, CONSUL_HTTP_ADDR: consul.url },
    close: () => Promise.all([sidecar.close(), consul.close()]),
  };
}

describe("mesh top", () => {
  it("prints a block per interval, busiest method first, and ends after --iterations", async () => {
    const mesh = await fakeMesh();
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [CLI, "top", "--interval", "0.2", "--iterations", "2"],
        { env: mesh.env },
      );
      const blocks = stdout
        .trimEnd()
        .split(/\n\n(?=mesh top)/)
        .map((block) => block.split("\n"));
      expect(blocks).toHaveLength(2);
      for (const block of blocks) {
        expect(block[0]).toMatch(/^mesh top {2}\d\d:\d\d:\d\d {2}1 sidecar {2}over 0\.\d s {2}\(by method\)$/);
        expect(block[2]).toMatch(/^from\s+to\s+method\s+rps\s+success\s+p50\s+p99$/);
        expect(block[3]).toMatch(/^order\s+inventory\s+GetStock\s+[\d.]+\s+100\.0%/);
        expect(block[4]).toMatch(/^order\s+inventory\s+ReserveStock\s+[\d.]+\s+50\.0%/);
      }
      expect(stdout).not.toContain(CLEAR);
    } finally {
      await mesh.close();
    }
  }, 20_000);

  it("stops cleanly on Ctrl-C (SIGINT) with exit code 0", async () => {
    const mesh = await fakeMesh();
    try {
      const child = spawn(process.execPath, [CLI, "top", "--interval", "0.2"], { env: mesh.env });
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
      });
      await new Promise<void>((resolve) =>
        child.stdout.on("data", (chunk) => {
          stdout += chunk;
          if (stdout.includes("ReserveStock")) resolve();
        }),
      );
      child.kill("SIGINT");
      const [code, signal] = await once(child, "exit");
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: "" });
    } finally {
      await mesh.close();
    }
  }, 20_000);
});
