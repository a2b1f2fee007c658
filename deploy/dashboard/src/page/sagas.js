// The dead letters (count per consumer, the newest each with a link to its order's trace) and the stuck sagas.
import { age, el, fillTable } from "./format.js";

/** A link that opens the order's traces in the trace view below (and stays shareable as #order=<id>). */
function orderLink(orderId, showOrder) {
  if (!orderId) return el("span", { class: "muted" }, "–");
  return el(
    "a",
    {
      href: `#order=${encodeURIComponent(orderId)}`,
      class: "order-link",
      "data-order-id": orderId,
      onclick: (event) => {
        event.preventDefault();
        history.replaceState(null, "", `#order=${encodeURIComponent(orderId)}`);
        showOrder(orderId);
      },
    },
    orderId,
  );
}

function showStatus(status, text) {
  status.hidden = !text;
  status.textContent = text ?? "";
}

export function renderDeadLetters({ source, counts, status, table }, view, showOrder) {
  const listed = view.total > view.recent.length ? `, the newest ${view.recent.length} listed` : "";
  source.textContent = view.nats ? `${view.total} in SHOP_DEAD_LETTERS at ${view.nats}${listed}` : "";
  if (!view.nats) showStatus(status, "Not watched: start the dashboard with --nats (NATS_URL).");
  else showStatus(status, view.error ? `cannot read the dead letters: ${view.error}` : null);
  status.classList.toggle("bad", Boolean(view.error));
  counts.replaceChildren(
    ...view.byConsumer.map(({ consumer, count }) =>
      el("li", { class: "badge bad", "data-consumer": consumer, "data-count": count }, `${consumer}: ${count}`),
    ),
  );
  const now = Date.now();
  const rows = view.recent.map((letter) =>
    el(
      "tr",
      { "data-seq": letter.seq, "data-consumer": letter.consumer, "data-order-id": letter.orderId },
      el("td", {}, String(letter.seq)),
      el("td", {}, letter.consumer),
      el("td", { title: letter.type }, letter.subject),
      el("td", {}, orderLink(letter.orderId, showOrder)),
      el("td", {}, String(letter.deliveries)),
      el("td", { title: letter.deadLetteredAt }, age(now - Date.parse(letter.deadLetteredAt))),
      el("td", { class: "reason" }, letter.reason),
    ),
  );
  fillTable(table.querySelector("tbody"), rows, "No dead letters.", 7);
  table.dataset.total = String(view.total);
}

export function renderStuckSagas({ status, table }, view, showOrder) {
  showStatus(status, view.error ? `cannot list stuck sagas: ${view.error}` : null);
  status.classList.toggle("bad", Boolean(view.error));
  const rows = view.orders.map((order) =>
    el(
      "tr",
      { class: "failing", "data-order-id": order.orderId, "data-waiting-for": order.waitingFor },
      el("td", {}, orderLink(order.orderId, showOrder)),
      el("td", {}, order.status),
      el("td", {}, el("span", { class: "badge warn" }, order.waitingFor || "?")),
      el("td", { title: order.sagaDeadline ?? "" }, age(order.stuckForSeconds * 1000)),
    ),
  );
  fillTable(table.querySelector("tbody"), rows, "No stuck sagas.", 4);
  table.dataset.count = String(view.orders.length);
}
