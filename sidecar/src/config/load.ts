import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { configSchema, type SidecarConfig } from "./schema.ts";

/** A configuration that cannot be used; the message names each offending key and value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function keyPath(path: readonly PropertyKey[]): string {
  return (
    path
      .map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`))
      .join("")
      .replace(/^\./, "") || "(root)"
  );
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`).join("\n");
  }
  const value = valueAt(input, issue.path);
  const shown = value === undefined ? "" : ` (got ${JSON.stringify(value)})`;
  return `${keyPath(issue.path)}: ${issue.message}${issue.message.includes("got ") ? "" : shown}`;
}

/** Validates a parsed configuration object and fills in every default. */
export function parseConfig(input: unknown, source = "config"): SidecarConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${describeIssue(issue, input)}`);
  throw new ConfigError(`invalid ${source}:\n${lines.join("\n")}`);
}

/** Reads a YAML (or JSON, which is YAML) configuration file and validates it. */
export async function loadConfig(path: string): Promise<SidecarConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config ${path} is not valid YAML: ${(error as Error).message}`);
  }
  return parseConfig(parsed, `config ${path}`);
}
