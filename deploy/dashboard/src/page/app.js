// The dashboard page: polls /api/mesh, /api/sagas and the traces every 2 s and renders each part; a failed poll
// shows a banner and the next one tries again. Works against real Jaeger too (then without the mesh parts).
import { el } from "./format.js";
import { createGraph } from "./graph.js";
import { renderEdges, renderInstances } from "./instances.js";
import { createRateChart } from "./rate-chart.js";
import { renderDeadLetters, renderStuckSagas } from "./sagas.js";
import { createTraces } from "./traces.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

const graph = createGraph($("graph"));
const chart = createRateChart($("rate-chart"));
const traces = createTraces({
  list: $("trace-list"),
  status: $("trace-search-status"),
  waterfall: $("waterfall"),
  saga: $("saga"),
  title: $("trace-title"),
  form: $("trace-search"),
  orderInput: $("order-id"),
  traceInput: $("trace-id"),
  clear: $("trace-clear"),
});

let refreshes = 0;

/** The order's traces in the trace view, as a search by its id (links of the dead letters and stuck sagas). */
const orderInHash = () => new URLSearchParams(location.hash.slice(1)).get("order");
window.addEventListener("hashchange", () => {
  const orderId = orderInHash();
  if (orderId) traces.showOrder(orderId);
});

async function refreshSagas() {
  const response = await fetch("/api/sagas");
  if (!response.ok) throw new Error(`sagas: HTTP ${response.status}`);
  const sagas = await response.json();
  const deadLetters = {
    source: $("dead-letter-source"),
    counts: $("dead-letter-counts"),
    status: $("dead-letter-status"),
    table: $("dead-letters"),
  };
  renderDeadLetters(deadLetters, sagas.deadLetters, traces.showOrder);
  renderStuckSagas({ status: $("stuck-status"), table: $("stuck-sagas") }, sagas.stuckSagas, traces.showOrder);
}

async function refreshMesh() {
  const response = await fetch("/api/mesh");
  if (!response.ok) throw new Error(`mesh view: HTTP ${response.status}`);
  const mesh = await response.json();
  const nodes = graph.update(mesh);
  $("graph-empty").hidden = nodes > 0;
  chart.update(mesh.rate);
  renderInstances($("instances").querySelector("tbody"), mesh.instances);
  renderEdges($("edges").querySelector("tbody"), mesh.edges);
  const t = mesh.traces;
  $("trace-stats").replaceChildren(
    `traces kept ${t.kept}/${t.capacity}`,
    t.dropped ? el("span", { class: "warn" }, ` · ${t.dropped} dropped (oldest first)`) : "",
    t.droppedSpans ? el("span", { class: "warn" }, ` · ${t.droppedSpans} spans over the per-trace cap`) : "",
  );
  $("scrape-info").textContent = `${mesh.scrapes} scrapes, ${mesh.windowSeconds}s window`;
  return mesh.consul?.error ?? null;
}

async function tick() {
  const problems = [];
  const [mesh, list, sagas] = await Promise.allSettled([refreshMesh(), traces.refresh(), refreshSagas()]);
  if (mesh.status === "rejected") problems.push(mesh.reason.message);
  else if (mesh.value) problems.push(mesh.value);
  if (list.status === "rejected") problems.push(list.reason.message);
  if (sagas.status === "rejected") problems.push(sagas.reason.message);
  const banner = $("error");
  banner.hidden = problems.length === 0;
  banner.textContent = problems.join(" · ");
  refreshes++;
  $("refresh-count").textContent = String(refreshes);
  const now = new Date();
  $("updated-at").textContent = now.toLocaleTimeString();
  $("updated-at").dateTime = now.toISOString();
  setTimeout(() => void tick(), POLL_MS);
}

if (orderInHash()) traces.showOrder(orderInHash());
void tick();
