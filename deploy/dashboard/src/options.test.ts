import { describe, expect, it } from "vitest";
import { checkOptions, DEFAULT_OPTIONS, OptionsError, parseOptions } from "./options.ts";

const problemsOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof OptionsError)
      return error.message
        .split("\n")
        .slice(1)
        .map((line) => line.trim());
    throw error;
  }
  throw new Error("no OptionsError");
};

describe("dashboard options", () => {
  it("takes flags over environment variables over the defaults, with units for sizes and durations", () => {
    expect(parseOptions([], {})).toEqual(DEFAULT_OPTIONS);
    const options = parseOptions(
      ["--port", "0", "--window", "1m", "--body-limit", "2MiB", "--order-service", "127.0.0.1:5000"],
      {
        DASHBOARD_PORT: "9000",
        NATS_URL: "nats://a:4222,nats://b:4222",
        CONSUL_HTTP_ADDR: "consul:8500",
        CONSUL_HTTP_TOKEN: "",
        DASHBOARD_SCRAPE_INTERVAL: "500ms",
      },
    );
    expect(options).toMatchObject({
      natsUrl: "nats://a:4222,nats://b:4222",
      orderService: "127.0.0.1:5000",
      identity: "mesh-dashboard",
      port: 0,
      consulAddr: "consul:8500",
      consulToken: undefined,
      windowMs: 60_000,
      scrapeIntervalMs: 500,
      bodyLimit: 2 * 1024 * 1024,
    });
  });

  it("names the flag or the variable, and the value, of everything that is wrong", () => {
    expect(
      problemsOf(() =>
        parseOptions(["--port", "70000", "--max-traces", "-3", "--colour", "x"], { DASHBOARD_WINDOW: "soon" }),
      ),
    ).toEqual(["--colour: unknown option (try --help)"]);
    expect(
      problemsOf(() => parseOptions(["--port", "70000", "--max-traces", "-3"], { DASHBOARD_WINDOW: "soon" })),
    ).toEqual([
      '--port: must be an integer from 0 to 65535 (got "70000")',
      '--max-traces: must be a positive integer (got "-3")',
      'DASHBOARD_WINDOW: must be a positive duration like 500ms, 2s or 1m (got "soon")',
    ]);
    expect(problemsOf(() => parseOptions(["--port"], {}))).toEqual(["--port: needs a value"]);
  });

  it("checks options given in code the same way, naming the key", () => {
    expect(checkOptions({ port: 0 }).port).toBe(0);
    expect(problemsOf(() => checkOptions({ bodyLimit: 0, host: "" }))).toEqual([
      'host: must be a non-empty string (got "")',
      "bodyLimit: must be a positive size in bytes (e.g. 8388608 or 8MiB) (got 0)",
    ]);
    expect(problemsOf(() => checkOptions({ windowMs: -5 }))).toEqual([
      "windowMs: must be a positive duration like 500ms, 2s or 1m (got -5)",
    ]);
  });
});
