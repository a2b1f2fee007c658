// The request-rate chart (uPlot): mesh-wide inbound calls/s and failed calls/s per scrape, updated in place.
import uPlot from "uplot";

export function createRateChart(container) {
  const width = () => Math.max(container.clientWidth - 10, 280);
  const chart = new uPlot(
    {
      width: width(),
      height: 170,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "calls/s", stroke: "#0969da", width: 2, fill: "rgba(9,105,218,0.08)" },
        { label: "failed/s", stroke: "#cf222e", width: 2 },
      ],
      axes: [{}, { size: 50 }],
    },
    [[], [], []],
    container,
  );
  new ResizeObserver(() => chart.setSize({ width: width(), height: 170 })).observe(container);
  return {
    update(points) {
      chart.setData([points.map((p) => p.t / 1000), points.map((p) => p.rps), points.map((p) => p.errorRps)]);
      container.dataset.points = String(points.length);
    },
  };
}
