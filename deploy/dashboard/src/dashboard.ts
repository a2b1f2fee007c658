// Starts the dashboard: the trace store, the mesh scraper and the HTTP server, and stops them again.
import type { AddressInfo } from "node:net";
import { consulBaseUrl } from "@mesh/sidecar";
import { MeshScraper } from "./mesh/scraper.ts";
import { checkOptions, type DashboardOptions } from "./options.ts";
import { DeadLetterReader } from "./sagas/dead-letters.ts";
import { SagaWatch } from "./sagas/saga-watch.ts";
import { StuckOrdersReader } from "./sagas/stuck-orders.ts";
import { createDashboardServer } from "./server/http-server.ts";
import { TraceStore } from "./store/trace-store.ts";

export interface RunningDashboard {
  /** The page, e.g. http://127.0.0.1:16686/ */
  url: string;
  port: number;
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should be for processes that send it traces (the base URL). */
  otlpEndpoint: string;
  store: TraceStore;
  scraper: MeshScraper;
  sagas: SagaWatch;
  /** Stops scraping, closes the listener and its connections; resolves when done. */
  stop(): Promise<void>;
}

/** Starts a dashboard in this process. Options not given take their defaults (DEFAULT_OPTIONS). */
export async function startDashboard(given: Partial<DashboardOptions> = {}): Promise<RunningDashboard> {
  const options = checkOptions(given);
  const store = new TraceStore({ maxTraces: options.maxTraces, maxSpansPerTrace: options.maxSpansPerTrace });
  const consul = {
    url: consulBaseUrl(options.consulAddr),
    token: options.consulToken,
    timeoutMs: options.scrapeTimeoutMs,
  };
  const scraper = new MeshScraper({
    consul,
    intervalMs: options.scrapeIntervalMs,
    windowMs: options.windowMs,
    timeoutMs: options.scrapeTimeoutMs,
  });
  const sagas = new SagaWatch({
    deadLetters: options.natsUrl ? new DeadLetterReader(options.natsUrl, options.scrapeTimeoutMs) : undefined,
    stuckOrders: new StuckOrdersReader({
      address: options.orderService,
      identity: options.identity,
      consul,
      timeoutMs: options.scrapeTimeoutMs,
    }),
    intervalMs: options.scrapeIntervalMs,
    natsUrl: options.natsUrl,
  });
  const server = createDashboardServer({ store, scraper, sagas, bodyLimit: options.bodyLimit });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  scraper.start();
  sagas.start();
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const base = `http://${host}:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    url: `${base}/`,
    port,
    otlpEndpoint: base,
    store,
    scraper,
    sagas,
    stop() {
      stopping ??= (async () => {
        await Promise.all([scraper.stop(), sagas.stop()]);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // The page's polls hold keep-alive connections; give in-flight answers a moment, then close the rest.
          setTimeout(() => server.closeAllConnections(), 1000).unref();
        });
      })();
      return stopping;
    },
  };
}
