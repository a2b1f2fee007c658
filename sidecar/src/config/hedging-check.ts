import type { MethodCatalog } from "../descriptors/method-catalog.ts";
import { ConfigError } from "./load.ts";
import type { SidecarConfig } from "./schema.ts";

/** The method paths a `methods` key names: `pkg.Service/Method`, or a bare method name of the upstream's services. */
function pathsOf(key: string, catalog: MethodCatalog, services: readonly string[]): string[] {
  return key.includes("/") ? [`/${key}`] : catalog.methodsNamed(key, services);
}

/**
 * A hedge sends a call twice or more, so only NO_SIDE_EFFECTS methods may hedge: a method-level `hedging` on any
 * other method is an error naming it (upstream-level hedging applies to the NO_SIDE_EFFECTS methods alone).
 */
export function checkHedging(config: SidecarConfig, catalog: MethodCatalog): void {
  const problems: string[] = [];
  for (const [upstream, settings] of Object.entries(config.upstreams)) {
    for (const [key, method] of Object.entries(settings.methods)) {
      if (!method.hedging) continue;
      const paths = pathsOf(key, catalog, settings.services);
      const where = `upstreams.${upstream}.methods.${key}.hedging`;
      if (paths.length === 0) {
        problems.push(`${where}: ${key} is not in the descriptors, so it cannot be known to have no side effects`);
        continue;
      }
      for (const path of paths) {
        const level = catalog.idempotency(path);
        if (level !== "no_side_effects") {
          problems.push(
            `${where}: ${path.slice(1)} is ${level === "idempotent" ? "IDEMPOTENT" : "not marked idempotent"}, and a hedge would run it more than once; only NO_SIDE_EFFECTS methods may hedge`,
          );
        }
      }
    }
  }
  if (problems.length) throw new ConfigError(`invalid config:\n${problems.map((line) => `  ${line}`).join("\n")}`);
}
