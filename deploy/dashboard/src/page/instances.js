// The instances and edges tables.
import { el, fillTable, ms, pct, rate } from "./format.js";

const HEALTH_CLASS = { passing: "ok", warning: "warn", critical: "bad" };

export function renderInstances(tbody, instances) {
  const rows = instances.map((instance) => {
    const sidecar =
      instance.reachable === true
        ? el("span", { class: "ok" }, "reachable")
        : instance.reachable === false
          ? el("span", { class: "bad", title: instance.error ?? "" }, "unreachable")
          : el("span", { class: "muted", title: instance.error ?? "" }, "not scraped");
    const breakers = Object.entries(instance.breakers).map(([upstream, state]) =>
      el(
        "span",
        { class: `badge ${state === "open" ? "bad" : state === "half_open" ? "warn" : "ok"}` },
        `${upstream}: ${state}`,
      ),
    );
    return el(
      "tr",
      { "data-instance": instance.id, "data-reachable": String(instance.reachable), "data-health": instance.health },
      el("td", {}, instance.id),
      el("td", {}, instance.service),
      el("td", {}, `${instance.address}:${instance.port}`),
      el("td", { class: HEALTH_CLASS[instance.health] ?? "" }, instance.health),
      el("td", {}, sidecar),
      el(
        "td",
        {},
        breakers.length ? breakers : el("span", { class: "muted" }, "–"),
        instance.ejectedEndpoints ? ` ${instance.ejectedEndpoints} ejected` : "",
      ),
    );
  });
  fillTable(tbody, rows, "No instances registered in Consul.", 6);
}

export function renderEdges(tbody, edges) {
  const rows = edges.map((edge) =>
    el(
      "tr",
      {
        "data-edge": `${edge.from}->${edge.to}`,
        "data-failing": String(edge.failing),
        class: edge.failing ? "failing" : "",
      },
      el("td", {}, `${edge.from} → ${edge.to}`),
      el("td", {}, rate(edge.rps)),
      el("td", {}, pct(edge.success)),
      el("td", {}, ms(edge.p50)),
      el("td", {}, ms(edge.p95)),
      el("td", {}, ms(edge.p99)),
      el("td", {}, edge.breaker ?? "–"),
    ),
  );
  fillTable(tbody, rows, "No calls between services in the window.", 7);
}
