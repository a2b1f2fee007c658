// The page's files (src/page, plain ES modules: no build step) and the libraries it imports, served from
// node_modules under /vendor/ with an import map in index.html naming them.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";

const require = createRequire(import.meta.url);
const PAGE_DIR = join(import.meta.dirname, "..", "page");

/** A package's dist directory, found from its main entry (the packages do not export package.json). */
const distOf = (name: string) => dirname(require.resolve(name));

const VENDOR: Record<string, () => string> = {
  "cytoscape.mjs": () => join(distOf("cytoscape"), "cytoscape.esm.min.mjs"),
  "cytoscape-dagre.mjs": () => join(distOf("cytoscape-dagre"), "cytoscape-dagre.mjs"),
  "uPlot.mjs": () => join(distOf("uplot"), "uPlot.esm.js"),
  "uPlot.css": () => join(distOf("uplot"), "uPlot.min.css"),
};

const PAGE_FILES = new Set([
  "index.html",
  "app.js",
  "graph.js",
  "instances.js",
  "rate-chart.js",
  "sagas.js",
  "traces.js",
  "trace-view.js",
  "format.js",
  "style.css",
]);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

const cache = new Map<string, StaticFile>();

/** The file served at a path (`/`, `/app.js`, `/vendor/uPlot.mjs`), or undefined when there is none. */
export async function staticFile(path: string): Promise<StaticFile | undefined> {
  let file: string | undefined;
  if (path === "/") file = join(PAGE_DIR, "index.html");
  else if (path.startsWith("/vendor/")) file = VENDOR[path.slice("/vendor/".length)]?.();
  else if (PAGE_FILES.has(path.slice(1))) file = join(PAGE_DIR, path.slice(1));
  if (!file) return undefined;
  let cached = cache.get(file);
  if (!cached) {
    cached = { body: await readFile(file), contentType: TYPES[extname(file)] ?? "application/octet-stream" };
    cache.set(file, cached);
  }
  return cached;
}
