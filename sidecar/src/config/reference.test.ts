import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "./load.ts";

// The documented reference must keep up with the schema: every key with a default is listed, the example parses.
const reference = readFileSync(join(import.meta.dirname, "../../CONFIG.md"), "utf8");

function leafKeys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafKeys(child, prefix ? `${prefix}.${key}` : key));
}

describe("CONFIG.md", () => {
  it("lists every configuration key that has a default", () => {
    const defaults = parseConfig({ service: "example", inbound: {}, outbound: {}, consul: {} });
    const documented = leafKeys(defaults).map((key) => key.replace(/^defaults\./, ""));
    const missing = documented.filter((key) => !reference.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });

  it("has an example that validates", () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(reference)?.[1];
    expect(example).toBeDefined();
    expect(() => parseConfig(parseYaml(example as string))).not.toThrow();
  });
});
