// Recent traces (with search by order id or trace id), the selected trace's waterfall and its saga timeline.
import { el, fillTable, micros } from "./format.js";
import { orderTraceOf, sagaSteps, traceSummary, waterfallRows } from "./trace-view.js";

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => null);
  return { status: response.status, body };
}

export function createTraces(elements) {
  const { list, status, waterfall, saga, title, form, orderInput, traceInput, clear } = elements;
  let search = { orderId: "", traceId: "" };
  let selected;
  let selectedTrace;
  // Until a trace is clicked, an order search keeps opening the order's best trace as its spans arrive.
  let chosenByHand = false;

  async function select(traceId) {
    selected = traceId;
    const { status: code, body } = await getJson(`/api/traces/${encodeURIComponent(traceId)}`);
    if (selected !== traceId) return;
    const trace = code === 200 ? body?.data?.[0] : undefined;
    selectedTrace = trace;
    renderDetail(trace, code === 404 ? `trace ${traceId} not found` : undefined);
    for (const row of list.querySelectorAll("tr[data-trace-id]"))
      row.classList.toggle("selected", row.dataset.traceId === traceId);
  }

  function renderDetail(trace, problem) {
    if (!trace) {
      title.textContent = problem ?? "select a trace";
      waterfall.replaceChildren(el("p", { class: "empty" }, problem ?? "No trace selected."));
      waterfall.dataset.rows = "0";
      waterfall.dataset.traceId = "";
      saga.replaceChildren(el("li", { class: "empty" }, "No saga events."));
      saga.dataset.steps = "0";
      return;
    }
    const summary = traceSummary(trace);
    title.textContent = `${trace.traceID} · ${summary.spans} spans · ${micros(summary.durationUs)}${summary.orderId ? ` · order ${summary.orderId}` : ""}`;
    const { rows, totalUs } = waterfallRows(trace);
    const scale = (us) => `${Math.min(100, Math.max(0, (us / totalUs) * 100)).toFixed(3)}%`;
    waterfall.replaceChildren(
      ...rows.map((row) => {
        const retry =
          row.attempt !== undefined
            ? el(
                "span",
                { class: "attempt", title: row.retryReason ? `retry: ${row.retryReason}` : "" },
                `#${row.attempt}${row.retryReason ? ` (${row.retryReason})` : ""} `,
              )
            : null;
        const bar = el(
          "div",
          { class: "span-bar", style: `left:${scale(row.offsetUs)};width:${scale(row.durationUs)}` },
          ...row.events.map((event) =>
            el("span", {
              class: "event",
              title: event.name,
              "data-event": event.name,
              style: `left:${scale(event.offsetUs - row.offsetUs)}`,
            }),
          ),
        );
        const meta = el(
          "span",
          { class: "span-meta", style: `left:calc(${scale(row.offsetUs + row.durationUs)} + 4px)` },
          micros(row.durationUs),
          row.error ? ` ✗ ${row.status || `grpc ${row.grpcStatus ?? "error"}`}` : "",
          row.events.length ? ` · ${row.events.map((e) => e.name).join(", ")}` : "",
        );
        return el(
          "div",
          {
            class: `span-row${row.error ? " error" : ""}`,
            "data-span-id": row.spanID,
            "data-depth": row.depth,
            "data-error": String(row.error),
            "data-service": row.service,
            "data-attempt": row.attempt,
          },
          el(
            "div",
            { class: "span-label", style: `padding-left:${row.depth * 12}px`, title: `${row.service}: ${row.name}` },
            el("span", { class: "service" }, row.service),
            retry,
            row.name,
          ),
          el("div", { class: "span-track" }, bar, meta),
        );
      }),
    );
    waterfall.dataset.rows = String(rows.length);
    waterfall.dataset.traceId = trace.traceID;
    const steps = sagaSteps(trace);
    const start = summary.startUs;
    saga.replaceChildren(
      ...(steps.length
        ? steps.map((step) =>
            el(
              "li",
              {
                class: String(step.outcome),
                "data-subject": step.subject,
                "data-operation": step.operation,
                "data-outcome": String(step.outcome),
              },
              el("span", { class: "when" }, `+${micros(step.startUs - start)}`),
              el("strong", {}, `${step.operation} ${step.subject}`),
              ` · ${step.service}${step.consumer ? ` (${step.consumer})` : ""} · `,
              el(
                "span",
                { class: step.error || step.outcome === "failed" || step.outcome === "dead-lettered" ? "bad" : "ok" },
                String(step.outcome),
              ),
            ),
          )
        : [el("li", { class: "empty" }, "No messaging spans in this trace.")]),
    );
    saga.dataset.steps = String(steps.length);
  }

  async function refresh() {
    if (search.traceId) {
      status.textContent = `trace id ${search.traceId}`;
      const { status: code, body } = await getJson(`/api/traces/${encodeURIComponent(search.traceId)}`);
      const traces = code === 200 ? (body?.data ?? []) : [];
      renderList(traces, traces.length ? "" : `No trace with id ${search.traceId}.`);
      if (traces[0] && selected !== traces[0].traceID) await select(traces[0].traceID);
      return;
    }
    const params = new URLSearchParams({ limit: "20", lookback: "1h" });
    if (search.orderId) params.set("tags", JSON.stringify({ "shop.order_id": search.orderId }));
    const { status: code, body } = await getJson(`/api/traces?${params}`);
    if (code !== 200) throw new Error(body?.errors?.[0]?.msg ?? `traces: HTTP ${code}`);
    const traces = body?.data ?? [];
    status.textContent = search.orderId
      ? `${body.total} traces of order ${search.orderId}`
      : `${body.total} traces in the last hour (newest 20 shown)`;
    renderList(traces, search.orderId ? `No trace of order ${search.orderId} (yet).` : "No traces received yet.");
    const orderTrace = search.orderId ? orderTraceOf(traces) : undefined;
    if (orderTrace && !chosenByHand && orderTrace.traceID !== selected) await select(orderTrace.traceID);
    else if (selected && selectedTrace && traces.some((t) => t.traceID === selected)) {
      // Spans keep arriving for a recent trace: redraw the selected one.
      const fresh = traces.find((t) => t.traceID === selected);
      if (fresh.spans.length !== selectedTrace.spans.length) await select(selected);
    }
  }

  function renderList(traces, emptyText) {
    const rows = traces.map((trace) => {
      const summary = traceSummary(trace);
      return el(
        "tr",
        {
          "data-trace-id": trace.traceID,
          "data-order-id": summary.orderId ?? "",
          class: `${trace.traceID === selected ? "selected" : ""} ${summary.errors ? "failing" : ""}`,
          onclick: () => {
            chosenByHand = true;
            return select(trace.traceID);
          },
        },
        el("td", {}, new Date(summary.startUs / 1000).toLocaleTimeString()),
        el("td", {}, summary.root),
        el("td", {}, summary.services.join(", ")),
        el("td", {}, String(summary.spans), summary.errors ? ` (${summary.errors} ✗)` : ""),
        el("td", {}, micros(summary.durationUs)),
        el("td", {}, summary.orderId ?? "–"),
      );
    });
    fillTable(list.querySelector("tbody"), rows, emptyText, 6);
  }

  function startSearch(orderId, traceId) {
    search = { orderId, traceId };
    chosenByHand = false;
    selected = undefined;
    refresh().catch((error) => (status.textContent = error.message));
  }

  /** Searches the traces of an order and opens its saga trace (links from the dead letters and stuck sagas). */
  function showOrder(orderId) {
    orderInput.value = orderId;
    traceInput.value = "";
    startSearch(orderId, "");
    list.scrollIntoView({ block: "start" });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    startSearch(orderInput.value.trim(), traceInput.value.trim().toLowerCase());
  });
  clear.addEventListener("click", () => {
    orderInput.value = "";
    traceInput.value = "";
    search = { orderId: "", traceId: "" };
    refresh().catch((error) => (status.textContent = error.message));
  });
  renderDetail(undefined);
  return { refresh, showOrder };
}
