// The service graph: cytoscape with the dagre layout. Nodes are services, edges caller -> callee labelled with rate,
// success and p99; failing edges are red. The layout runs again only when the set of nodes or edges changes.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { ms, pct, rate } from "./format.js";

cytoscape.use(dagre);

const STYLE = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "text-wrap": "wrap",
      "text-valign": "center",
      "font-size": 11,
      shape: "round-rectangle",
      width: 120,
      height: 42,
      "background-color": "#ddf4ff",
      "border-width": 1,
      "border-color": "#54aeff",
    },
  },
  { selector: "node.unhealthy", style: { "background-color": "#ffebe9", "border-color": "#cf222e" } },
  { selector: "node.external", style: { "border-style": "dashed", "background-color": "#f6f8fa" } },
  {
    selector: "edge",
    style: {
      label: "data(label)",
      "font-size": 10,
      "text-background-color": "#fff",
      "text-background-opacity": 0.85,
      "curve-style": "bezier",
      "target-arrow-shape": "triangle",
      width: 2,
      "line-color": "#8c959f",
      "target-arrow-color": "#8c959f",
    },
  },
  {
    selector: "edge.failing",
    style: { "line-color": "#cf222e", "target-arrow-color": "#cf222e", color: "#cf222e", width: 3 },
  },
];

export function createGraph(container) {
  const cy = cytoscape({ container, style: STYLE, elements: [], wheelSensitivity: 0.2, minZoom: 0.3, maxZoom: 2.5 });
  let shape = "";
  return {
    update(mesh) {
      const nodes = mesh.services.map((service) => {
        const unhealthy = service.instances > 0 && service.healthy < service.instances;
        const unreachable = mesh.instances.some((i) => i.service === service.name && i.reachable === false);
        return {
          group: "nodes",
          data: {
            id: service.name,
            label: `${service.name}\n${service.external ? "external" : `${service.healthy}/${service.instances} healthy`}`,
          },
          classes: [unhealthy || unreachable ? "unhealthy" : "", service.external ? "external" : ""].join(" ").trim(),
        };
      });
      const edges = mesh.edges.map((edge) => ({
        group: "edges",
        data: {
          id: `${edge.from}->${edge.to}`,
          source: edge.from,
          target: edge.to,
          label: `${rate(edge.rps)} · ${pct(edge.success)} · p99 ${ms(edge.p99)}${edge.breaker === "open" ? " · OPEN" : ""}`,
        },
        classes: edge.failing ? "failing" : "",
      }));
      const nextShape = JSON.stringify([nodes.map((n) => n.data.id), edges.map((e) => e.data.id)]);
      if (nextShape !== shape) {
        shape = nextShape;
        cy.elements().remove();
        cy.add([...nodes, ...edges]);
        cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 30, rankSep: 230, padding: 20 }).run();
        // A small graph fitted to the box would be drawn huge: keep it at most at natural size, centred.
        if (cy.zoom() > 1.3) {
          cy.zoom(1.3);
          cy.center();
        }
      } else {
        for (const element of [...nodes, ...edges]) {
          const existing = cy.getElementById(element.data.id);
          existing.data("label", element.data.label);
          existing.classes(element.classes);
        }
      }
      container.dataset.services = cy
        .nodes()
        .map((node) => node.id())
        .sort()
        .join(",");
      container.dataset.edges = cy
        .edges()
        .map((edge) => edge.id())
        .sort()
        .join(",");
      container.dataset.failingEdges = cy
        .edges(".failing")
        .map((edge) => edge.id())
        .sort()
        .join(",");
      return nodes.length;
    },
  };
}
