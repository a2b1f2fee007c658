import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

const REBUILD = "build it with: npm run build";

/**
 * The built entry point of a service (services/<name>/dist/main.mjs, from scripts/build.mjs), which the mesh runs
 * instead of its TypeScript. Refused when missing, or older than any source it was built from (dist/inputs.json):
 * a mesh running yesterday's code while its sources say otherwise would mislead whoever tests a change.
 */
export async function serviceBundle(root: string, service: string): Promise<string> {
  const dist = join("services", service, "dist");
  const built = await stat(join(root, dist, "inputs.json")).catch(() => undefined);
  if (!built) throw new Error(`${dist}/main.mjs is missing; ${REBUILD}`);
  const inputs = JSON.parse(await readFile(join(root, dist, "inputs.json"), "utf8")) as string[];
  for (const input of inputs) {
    const source = await stat(join(root, input)).catch(() => undefined);
    if (!source || source.mtimeMs > built.mtimeMs) throw new Error(`${dist} is older than ${input}; ${REBUILD}`);
  }
  return join(root, dist, "main.mjs");
}
