// Bundles every process of the mesh with esbuild: the sidecar (sidecar/dist/mesh-sidecar.mjs) and each service
// (services/<name>/dist/main.mjs). A bundle starts fast and runs without a TypeScript loader, which costs a loader
// thread, the compiler and tens of MiB of memory per process (bench/REPORT.md).
import { readdir, rm, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const SERVICES = ["gateway", "inventory", "order", "payment", "provider"];

/** What every bundle shares. */
const COMMON = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  keepNames: true,
  logLevel: "warning",
  // Some dependencies are CommonJS and call require(); give the bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
};

/**
 * What a service's bundle leaves to node_modules, imported by name: MikroORM (and knex under it) loads drivers and
 * dialects by name at run time, and the pg instrumentation patches `pg` as Node requires it, so these only work as
 * real modules. Everything else goes into the bundle, the workspace's TypeScript packages included: bundled, the
 * provider holds 96 MiB at idle, against 112 MiB with every installed package left out (and 147 MiB under tsx).
 */
const SERVICE_EXTERNALS = ["@mikro-orm/*", "pg"];

/** The sidecar: everything in one file. */
async function buildSidecar() {
  await build({
    ...COMMON,
    entryPoints: ["sidecar/src/cli.ts"],
    outfile: "sidecar/dist/mesh-sidecar.mjs",
    // Half the bundle's bytes are its dependencies' (zod above all); minified, a sidecar holds ~5 MiB less.
    minify: true,
  });
}

/**
 * A service: services/<name>/dist/main.mjs, its chunks, and inputs.json, the sources it was built from, which tell
 * whoever runs it whether the build is older than the sources (deploy/local).
 */
async function buildService(service) {
  const outdir = `services/${service}/dist`;
  const { metafile } = await build({
    ...COMMON,
    entryPoints: { main: `services/${service}/src/main.ts` },
    outdir,
    outExtension: { ".js": ".mjs" },
    // What a service imports only when needed (the tracing SDK when tracing is on) stays a chunk of its own, so a
    // process without tracing never loads it or the packages it imports.
    splitting: true,
    minify: true,
    external: SERVICE_EXTERNALS,
    metafile: true,
  });
  await removeStaleOutputs(outdir, Object.keys(metafile.outputs));
  // Installed packages change only through npm install, which builds again (prepare).
  const sources = Object.keys(metafile.inputs).filter((input) => !input.includes("node_modules/"));
  await writeFile(`${outdir}/inputs.json`, `${JSON.stringify(sources, null, 1)}\n`);
}

/**
 * Chunks are named by their content, so an earlier build's would pile up. They go after the new build is written,
 * not before: a process starting meanwhile (another test run's mesh) still finds every file it imports.
 */
async function removeStaleOutputs(outdir, outputs) {
  const current = new Set(outputs.map((output) => output.slice(outdir.length + 1)));
  const stale = (await readdir(outdir)).filter((name) => name !== "inputs.json" && !current.has(name));
  await Promise.all(stale.map((name) => rm(`${outdir}/${name}`, { force: true })));
}

await Promise.all([buildSidecar(), ...SERVICES.map(buildService)]);
