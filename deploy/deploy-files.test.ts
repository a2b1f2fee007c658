import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parseConfig } from "@mesh/sidecar";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { SHOP } from "./local/src/topology.ts";

// No Docker engine or cluster runs here: the deploy files are checked as far as that allows — they parse, they
// reference what exists, every sidecar config passes the sidecar's own validation, and the manifests are current.
const here = import.meta.dirname;

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  network_mode?: string;
  volumes?: string[];
}

describe("deploy/compose", () => {
  const compose = parse(readFileSync(join(here, "compose/compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
  };

  it("runs every instance of the shop as an app with a sidecar in its network namespace", () => {
    const expected = SHOP.flatMap((plan) =>
      plan.instances > 1
        ? Array.from({ length: plan.instances }, (_, i) => `${plan.service}-${i + 1}`)
        : [plan.service],
    );
    for (const name of expected) {
      expect(compose.services[name]?.command?.join(" ")).toMatch(/services\/\w+\/src\/main\.ts$/);
      expect(compose.services[`${name}-sidecar`]?.network_mode).toBe(`service:${name}`);
    }
    for (const infra of ["consul", "nats", "postgres"]) expect(compose.services[infra]).toBeDefined();
    for (const service of Object.values(compose.services)) expect(service.image).toBeDefined();
  });

  it("mounts files that exist", () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0] as string;
        if (source.startsWith(".")) expect(existsSync(resolve(here, "compose", source)), source).toBe(true);
      }
    }
  });

  it("has sidecar configs that pass the sidecar's validation", () => {
    for (const plan of SHOP) {
      const config = parseConfig(parse(readFileSync(join(here, "compose/sidecars", `${plan.service}.yaml`), "utf8")));
      expect(config.service).toBe(plan.service);
      expect(Object.keys(config.upstreams).sort()).toEqual([...plan.calls].sort());
    }
  });
});

describe("deploy/k8s", () => {
  it("is what the generator writes today", async () => {
    await expect(
      promisify(execFile)(process.execPath, ["--import", "tsx", join(here, "k8s/generate.ts"), "--check"]),
    ).resolves.toBeDefined();
  });

  it("gives every pod the app and its sidecar, probes on the sidecar, and a valid sidecar config", () => {
    const documents = parseAllDocuments(readFileSync(join(here, "k8s/shop.yaml"), "utf8")).map((document) =>
      document.toJS(),
    );
    const byKind = (kind: string) => documents.filter((document) => document.kind === kind);
    expect(
      byKind("Deployment")
        .map((deployment) => deployment.metadata.name)
        .sort(),
    ).toEqual(SHOP.map((plan) => plan.service).sort());
    for (const deployment of byKind("Deployment")) {
      const [app, sidecar] = deployment.spec.template.spec.containers;
      expect([app.name, sidecar.name]).toEqual(["app", "sidecar"]);
      expect(sidecar.readinessProbe.httpGet.path).toBe("/readyz");
      expect(sidecar.livenessProbe.httpGet.path).toBe("/healthz");
    }
    for (const configMap of byKind("ConfigMap").filter((map) => map.metadata.name.endsWith("-sidecar"))) {
      expect(() => parseConfig(parse(configMap.data["sidecar.yaml"]))).not.toThrow();
    }
    expect(byKind("Service")).toHaveLength(SHOP.length);
  });
});
