// Small formatting and DOM helpers shared by the page's modules.

export const ms = (value) =>
  value === null || value === undefined ? "–" : `${Number(value).toFixed(value < 10 ? 2 : 1)}ms`;
export const pct = (value) => (value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`);
export const rate = (value) => `${Number(value ?? 0).toFixed(1)}/s`;

/** An age as people read it: 42s, 12m, 3h, 5d (as the CLI prints it). */
export function age(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** A duration in µs as text with a fitting unit. */
export function micros(us) {
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(2)}s`;
  if (us >= 1000) return `${(us / 1000).toFixed(1)}ms`;
  return `${Math.round(us)}µs`;
}

/** An element with attributes and children (strings become text nodes: nothing is parsed as HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces a tbody's rows, or shows one row saying it is empty. */
export function fillTable(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(
    ...(rows.length
      ? rows
      : [el("tr", { class: "empty-row" }, el("td", { colspan: columns, class: "empty" }, emptyText))]),
  );
}
