// A line chart: series of [unix seconds, value] points, each scaled to its own range, drawn as
// inline SVG, with its legend and time span in HTML (readable at any width).
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;
const PAD = 8;

export function lineChart(series, { label = "" } = {}) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.classList.add("chart");
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const x = (value) => (((value - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD) + PAD).toFixed(1);
  series.forEach((s, index) => {
    if (s.points.length === 0) return;
    const ys = s.points.map((p) => p[1]);
    const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
    const y = (value) => (HEIGHT - PAD - ((value - y0) / (y1 - y0)) * (HEIGHT - 2 * PAD)).toFixed(1);
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", s.points.map(([px, py]) => `${x(px)},${y(py)}`).join(" "));
    line.setAttribute("class", `series series-${index}`);
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
  });
  const clock = (seconds) => new Date(seconds * 1000).toISOString().slice(11, 16);
  return h("figure", { class: "chart-figure" }, svg,
    h("figcaption", {},
      h("span", { class: "span" }, x0 === x1 ? `at ${clock(x0)} UTC` : `${clock(x0)} to ${clock(x1)} UTC`),
      series.map((s, index) => s.points.length > 0 && h("span", { class: `legend series-${index}` },
        `${s.name}: ${s.format(s.points.at(-1)[1])} now, max ${s.format(Math.max(...s.points.map((p) => p[1])))}`))));
}
