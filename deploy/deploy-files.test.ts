import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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
  entrypoint?: string[];
  command?: string[];
  network_mode?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
}

/** The port every sidecar's plaintext health listener takes (tls.healthListen), for Consul's check. */
const HEALTH_PORT = 15021;

/** The shop's call graph, from the topology the local mesh runs: each edge must be allowed, and nothing else. */
const shopEdges = SHOP.flatMap((plan) => plan.calls.map((callee) => `${plan.service} -> ${callee}`)).sort();

/** The intentions a set of service-intentions config entries (file name -> JSON text) declare, as "src -> dst". */
function intentionsOf(files: Record<string, string>): { allow: string[]; deny: string[] } {
  const allow: string[] = [];
  const deny: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    if (!name.endsWith(".json")) continue;
    const entry = JSON.parse(text) as { Kind: string; Name: string; Sources: { Name: string; Action?: string }[] };
    expect(entry.Kind, name).toBe("service-intentions");
    for (const source of entry.Sources) {
      expect(["allow", "deny"], `${name}: ${source.Name}`).toContain(source.Action);
      (source.Action === "allow" ? allow : deny).push(`${source.Name} -> ${entry.Name}`);
    }
  }
  return { allow: allow.sort(), deny: deny.sort() };
}

/** Deny by default, then exactly the shop's call graph. */
function expectShopIntentions(files: Record<string, string>) {
  const { allow, deny } = intentionsOf(files);
  expect(deny).toEqual(["* -> *"]);
  expect(allow).toEqual(shopEdges);
  expect(files["write.sh"]).toMatch(/consul config write/);
}

/** A sidecar config's raw keys, before the sidecar's defaults, and what the sidecar itself makes of it. */
function checkSidecarConfig(text: string, service: string) {
  const raw = parse(text) as { service?: string; consul?: unknown; tls?: { healthListen?: string } };
  expect(raw.service, `the ${service} sidecar needs service (its mesh identity)`).toBe(service);
  expect(raw.consul, service).toBeDefined();
  expect(raw.tls?.healthListen, service).toBe(`0.0.0.0:${HEALTH_PORT}`);
  const config = parseConfig(raw);
  expect(config.service).toBe(service);
  expect(config.tls.enabled).toBe(true);
  return config;
}

const composeIntentionsDir = join(here, "compose/intentions");
const composeIntentions = Object.fromEntries(
  readdirSync(composeIntentionsDir).map((name) => [name, readFileSync(join(composeIntentionsDir, name), "utf8")]),
);

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

  it("has sidecar configs that pass the sidecar's validation, each with its identity and health listener", () => {
    for (const plan of SHOP) {
      const text = readFileSync(join(here, "compose/sidecars", `${plan.service}.yaml`), "utf8");
      const config = checkSidecarConfig(text, plan.service);
      expect(Object.keys(config.upstreams).sort()).toEqual([...plan.calls].sort());
    }
  });

  it("runs Consul with Connect", () => {
    const command = compose.services.consul?.command ?? [];
    expect(command).toContain("-dev");
    expect(command.join(" ")).toMatch(/connect \{ enabled = true \}/);
  });

  it("writes deny-by-default intentions and the shop's call graph before any sidecar starts", () => {
    expectShopIntentions(composeIntentions);
    const intentions = compose.services.intentions;
    expect(intentions?.image).toMatch(/^hashicorp\/consul:/);
    expect(intentions?.volumes).toContain("./intentions:/etc/mesh/intentions:ro");
    expect([...(intentions?.entrypoint ?? []), ...(intentions?.command ?? [])].join(" ")).toContain(
      "/etc/mesh/intentions/write.sh",
    );
    expect(intentions?.depends_on?.consul).toBeDefined();
    const sidecars = Object.entries(compose.services).filter(([name]) => name.endsWith("-sidecar"));
    expect(sidecars).toHaveLength(SHOP.reduce((sum, plan) => sum + plan.instances, 0));
    for (const [name, sidecar] of sidecars)
      expect(sidecar.depends_on?.intentions?.condition, name).toBe("service_completed_successfully");
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
      expect(sidecar.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "health" });
      expect(sidecar.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
      expect(sidecar.ports).toContainEqual({ name: "health", containerPort: HEALTH_PORT });
      const [wait] = deployment.spec.template.spec.initContainers;
      expect(wait.command.join(" ")).toContain("consul config read -kind service-intentions -name '*'");
    }
    const sidecarConfigs = byKind("ConfigMap").filter((map) => map.metadata.name.endsWith("-sidecar"));
    expect(sidecarConfigs.map((map) => map.metadata.name).sort()).toEqual(
      SHOP.map((plan) => `${plan.service}-sidecar`).sort(),
    );
    for (const configMap of sidecarConfigs) {
      checkSidecarConfig(configMap.data["sidecar.yaml"], configMap.metadata.name.replace(/-sidecar$/, ""));
    }
    expect(byKind("Service")).toHaveLength(SHOP.length);
  });

  it("has a Job that writes deny-by-default intentions and the shop's call graph", () => {
    const documents = parseAllDocuments(readFileSync(join(here, "k8s/shop.yaml"), "utf8")).map((document) =>
      document.toJS(),
    );
    const intentions = documents.find(
      (document) => document.kind === "ConfigMap" && document.metadata.name === "mesh-intentions",
    );
    expectShopIntentions(intentions.data);
    const jobs = documents.filter((document) => document.kind === "Job");
    expect(jobs.map((job) => job.metadata.name)).toEqual(["mesh-intentions"]);
    const spec = jobs[0].spec.template.spec;
    expect(spec.containers[0].command.join(" ")).toContain("/etc/mesh/intentions/write.sh");
    expect(spec.containers[0].volumeMounts).toContainEqual({
      name: "intentions",
      mountPath: "/etc/mesh/intentions",
      readOnly: true,
    });
    expect(spec.volumes).toContainEqual({ name: "intentions", configMap: { name: "mesh-intentions" } });
  });
});
