// A check of the dashboard page in a real headless browser (Debian's chromium, driven by playwright-core; no browser
// download): the graph shows every given service, searching an order id finds a trace whose waterfall has rows, the
// page keeps updating (refresh counter and time change, the rate chart has points), and, when asked, the dead-letter
// and stuck-saga panels show what they should, a dead letter's order link opening that order's trace. Screenshots go to the given
// paths. Install chromium with `node scripts/setup.mjs`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// What the functions run in the page use of its globals (this file compiles without the DOM library).
interface PageElement {
  dataset: Record<string, string | undefined>;
  value?: string;
  textContent: string | null;
  querySelectorAll(selector: string): { length: number };
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

export interface PageCheckOptions {
  /** The dashboard page, e.g. http://127.0.0.1:16686/ */
  url: string;
  /** An order whose trace must be found by searching its id (tag shop.order_id). */
  orderId: string;
  /** Services the graph must show as nodes. */
  services: string[];
  /** The order's trace must have at least this many saga steps (messaging spans); default 0. */
  minSagaSteps?: number;
  /** Dead letters the panel must count, per consumer. */
  deadLetters?: Record<string, number>;
  /** An order with a dead letter: the link of its row must open the order's trace. */
  deadLetterOrderId?: string;
  /** Stuck sagas the panel must list: order id -> what it waits for. */
  stuckSagas?: Record<string, string>;
  /** Where to save screenshots: the overview once the graph is drawn, and the page with the order's trace open. */
  screenshots?: { overview?: string; trace?: string };
  chromiumPath?: string;
  /** For each wait; default 20 s. */
  timeoutMs?: number;
}

export interface PageCheckResult {
  services: string[];
  traceId: string;
  waterfallRows: number;
  sagaSteps: number;
  refreshes: { first: number; last: number };
  updatedAt: { first: string; last: string };
  ratePoints: number;
  /** What the panels showed: dead letters per consumer, stuck sagas' order id -> what each waits for. */
  deadLetters: Record<string, number>;
  stuckSagas: Record<string, string>;
  /** The trace the dead letter's order link opened. */
  linkedTraceId: string | undefined;
}

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Runs the check; throws an Error naming what the page lacked. */
export async function checkDashboardPage(options: PageCheckOptions): Promise<PageCheckResult> {
  const timeout = options.timeoutMs ?? 20_000;
  const userDataDir = await mkdtemp(join(tmpdir(), "mesh-dashboard-check-"));
  // A persistent context is how playwright takes a user data directory of our own: a fresh one per check.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: options.chromiumPath ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
  const pageErrors: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.setDefaultTimeout(timeout);
    await page.goto(options.url);

    const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (error) {
        const errors = pageErrors.length ? `; page errors: ${pageErrors.join(" | ")}` : "";
        throw new Error(`dashboard page check: ${what}: ${(error as Error).message.split("\n")[0]}${errors}`);
      }
    };

    const services = await step(`the graph does not show every service of ${options.services.join(", ")}`, async () => {
      await page.waitForFunction((wanted) => {
        const shown = (document.getElementById("graph")?.dataset.services ?? "").split(",");
        return wanted.every((service) => shown.includes(service));
      }, options.services);
      return ((await page.getAttribute("#graph", "data-services")) ?? "").split(",");
    });
    await step("the graph has no drawing", () => page.waitForSelector("#graph canvas"));

    const first = {
      count: Number(await page.textContent("#refresh-count")),
      at: (await page.textContent("#updated-at")) ?? "",
    };
    await step("the page does not refresh (counter and time unchanged)", () =>
      page.waitForFunction(
        ({ count, at }) =>
          Number(document.getElementById("refresh-count")?.textContent) >= count + 2 &&
          document.getElementById("updated-at")?.textContent !== at,
        first,
      ),
    );
    const ratePoints = await step("the rate chart has no points", async () => {
      await page.waitForFunction(() => Number(document.getElementById("rate-chart")?.dataset.points) >= 2);
      await page.waitForSelector("#rate-chart canvas");
      return Number(await page.getAttribute("#rate-chart", "data-points"));
    });
    if (options.screenshots?.overview) await page.screenshot({ path: options.screenshots.overview, fullPage: true });

    await page.fill("#order-id", options.orderId);
    await page.click('#trace-search button[type="submit"]');
    const row = `#trace-list tr[data-order-id=${JSON.stringify(options.orderId)}]`;
    await step(`searching order ${options.orderId} lists no trace`, () => page.waitForSelector(row));
    // The page opens the order's saga trace, which need not be the newest of its traces (later reads are traces too).
    const waterfallRows = await step(`the waterfall of order ${options.orderId}'s trace has no rows`, async () => {
      await page.waitForFunction((orderId) => {
        const waterfall = document.getElementById("waterfall");
        const shown = waterfall?.dataset.traceId;
        const listed = document.querySelectorAll(
          `#trace-list tr[data-order-id="${orderId}"][data-trace-id="${shown}"]`,
        ).length;
        return Boolean(shown) && listed > 0 && (waterfall?.querySelectorAll(".span-row").length ?? 0) > 0;
      }, options.orderId);
      return page.locator("#waterfall .span-row").count();
    });
    const traceId = (await page.getAttribute("#waterfall", "data-trace-id")) ?? "";
    const sagaSteps = await page.locator("#saga li[data-subject]").count();
    if (sagaSteps < (options.minSagaSteps ?? 0)) {
      throw new Error(
        `dashboard page check: the saga timeline shows ${sagaSteps} steps, fewer than ${options.minSagaSteps}`,
      );
    }
    const deadLetters = await step("the dead-letter panel does not count what it should", async () => {
      if (options.deadLetters) {
        await page.waitForFunction((wanted) => {
          const shown = Array.from(document.querySelectorAll("#dead-letter-counts li[data-consumer]"));
          return (
            shown.length === Object.keys(wanted).length &&
            shown.every((item) => wanted[item.dataset.consumer ?? ""] === Number(item.dataset.count))
          );
        }, options.deadLetters);
      }
      return page.$$eval("#dead-letter-counts li[data-consumer]", (items) =>
        Object.fromEntries(
          items.map((item) => [item.getAttribute("data-consumer"), Number(item.getAttribute("data-count"))]),
        ),
      );
    });
    const stuckSagas = await step("the stuck-saga panel does not list what it should", async () => {
      for (const [orderId, waitingFor] of Object.entries(options.stuckSagas ?? {}))
        await page.waitForSelector(
          `#stuck-sagas tr[data-order-id=${JSON.stringify(orderId)}][data-waiting-for=${JSON.stringify(waitingFor)}]`,
        );
      return page.$$eval("#stuck-sagas tr[data-order-id]", (rows) =>
        Object.fromEntries(
          rows.map((row) => [row.getAttribute("data-order-id"), row.getAttribute("data-waiting-for")]),
        ),
      );
    });
    const linkedTraceId = options.deadLetterOrderId
      ? await step(`the dead letter's link does not open order ${options.deadLetterOrderId}'s trace`, async () => {
          const orderId = options.deadLetterOrderId as string;
          await page.click(`#dead-letters tr[data-order-id=${JSON.stringify(orderId)}] a.order-link`);
          await page.waitForFunction((id) => {
            const shown = document.getElementById("waterfall")?.dataset.traceId;
            const listed = document.querySelectorAll(`#trace-list tr[data-order-id="${id}"][data-trace-id="${shown}"]`);
            return document.getElementById("order-id")?.value === id && Boolean(shown) && listed.length > 0;
          }, orderId);
          return (await page.getAttribute("#waterfall", "data-trace-id")) ?? "";
        })
      : undefined;
    const last = {
      count: Number(await page.textContent("#refresh-count")),
      at: (await page.textContent("#updated-at")) ?? "",
    };
    if (options.screenshots?.trace) {
      await page.locator("#waterfall").scrollIntoViewIfNeeded();
      await page.screenshot({ path: options.screenshots.trace, fullPage: true });
    }
    if (pageErrors.length) throw new Error(`dashboard page check: errors in the page: ${pageErrors.join(" | ")}`);
    return {
      services,
      traceId,
      waterfallRows,
      sagaSteps,
      refreshes: { first: first.count, last: last.count },
      updatedAt: { first: first.at, last: last.at },
      ratePoints,
      deadLetters,
      stuckSagas,
      linkedTraceId,
    };
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}
