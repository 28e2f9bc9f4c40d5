// A line chart as inline SVG: series of [x, y] points, each scaled to its own range.
const NS = "http://www.w3.org/2000/svg";

export function lineChart(series, { width = 600, height = 160, label = "" } = {}) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.classList.add("chart");
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  series.forEach((s, index) => {
    if (s.points.length === 0) return;
    const ys = s.points.map((p) => p[1]);
    const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
    const path = document.createElementNS(NS, "polyline");
    path.setAttribute("points", s.points.map(([x, y]) =>
      `${(((x - x0) / (x1 - x0 || 1)) * (width - 20) + 10).toFixed(1)},${(height - 20 - ((y - y0) / (y1 - y0)) * (height - 40)).toFixed(1)}`).join(" "));
    path.setAttribute("class", `series series-${index}`);
    svg.append(path);
    const legend = document.createElementNS(NS, "text");
    legend.setAttribute("x", 10 + index * 220);
    legend.setAttribute("y", height - 4);
    legend.setAttribute("class", `legend series-${index}`);
    legend.textContent = `${s.name} (max ${s.format(Math.max(...ys))})`;
    svg.append(legend);
  });
  return svg;
}
