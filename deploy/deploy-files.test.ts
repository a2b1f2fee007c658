import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel as Level } from "@bufbuild/protobuf/wkt";
import { GatewayService } from "@mesh/proto/shop/gateway/v1/gateway_pb";
import { InventoryService } from "@mesh/proto/shop/inventory/v1/inventory_pb";
import { OrderService } from "@mesh/proto/shop/order/v1/order_pb";
import { PaymentService } from "@mesh/proto/shop/payment/v1/payment_pb";
import { PaymentProviderService } from "@mesh/proto/shop/payment/v1/provider_pb";
import { parseConfig, type SidecarConfig } from "@mesh/sidecar";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { resolveMethodPolicy } from "../sidecar/src/config/policy.ts";
import { shopUpstreamPolicy } from "./local/src/local-mesh.ts";
import { SHOP, servesOf } from "./local/src/topology.ts";

// No Docker engine or cluster runs here: the deploy files are checked as far as that allows — they parse, they
// reference what exists, every sidecar config passes the sidecar's own validation, and the manifests are current.
const here = import.meta.dirname;

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  build?: unknown;
  entrypoint?: string[];
  command?: string[];
  network_mode?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
}

/**
 * How the image runs a service: its build (scripts/build.mjs), which needs no TypeScript loader, and which the image
 * holds (checked below).
 */
const appCommand = (service: string) => ["node", `services/${service}/dist/main.mjs`];

/** The compose file's JetStream cluster. */
const NATS_NODES = ["nats-1", "nats-2", "nats-3"];

/** The port every sidecar's plaintext health listener takes (tls.healthListen), for Consul's check. */
const HEALTH_PORT = 15021;

/** Tracing on, as every app and sidecar must have it: OTLP/HTTP to Jaeger, everything sampled. */
const OTEL = {
  OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318",
  OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
  OTEL_TRACES_SAMPLER_ARG: "1.0",
};

/** A scrape job of a Prometheus config: its name, metrics path, static targets and service discovery. */
interface ScrapeJob {
  job_name: string;
  metrics_path?: string;
  static_configs?: { targets: string[] }[];
  kubernetes_sd_configs?: { role: string }[];
  relabel_configs?: { source_labels?: string[]; regex?: string; action?: string; target_label?: string }[];
}

/** Every statically configured target of a Prometheus config, as "host:port/path". */
function scrapedTargets(config: { scrape_configs: ScrapeJob[] }): string[] {
  return config.scrape_configs.flatMap((job) =>
    (job.static_configs ?? []).flatMap((group) =>
      group.targets.map((target) => `${target}${job.metrics_path ?? "/metrics"}`),
    ),
  );
}

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

/** The shop's contracts, by protobuf service name: which methods have no side effects. */
const CONTRACTS = new Map<string, DescService>(
  [GatewayService, InventoryService, OrderService, PaymentService, PaymentProviderService].map((service) => [
    service.typeName,
    service,
  ]),
);

/** The shortest caller deadline the mesh keeps reads alive under when an instance hangs (the fault suite's reads). */
const READ_DEADLINE_MS = 1000;
/** A write's attempts must be allowed at least this long: a slow legitimate write is not a hung instance. */
const WRITE_MIN_PER_TRY_MS = 1000;
/**
 * The provider stands for the external card gateway: one endpoint, whose writes are not bounded per try (a retry
 * after a per-try timeout would go to the same slow gateway and only add to its load).
 */
const EXTERNAL_UPSTREAMS = new Set(["provider"]);

/**
 * What lets calls flow around a hung or slow instance (issue 14), as problems found: every read
 * (NO_SIDE_EFFECTS) an upstream serves is hedged and has a per-try timeout short enough for a retry to fit in a
 * 1 s deadline; a write has no hedging of its own (the sidecar refuses that); an IDEMPOTENT write (all the shop's
 * are) has a per-try timeout of at least 1 s, so a hung instance costs it one second and a slow one is not cut short
 * (nor is its last attempt, ever); a method with side effects would have none.
 */
function tailLatencyProblems(config: SidecarConfig): string[] {
  const problems: string[] = [];
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    for (const serviceName of upstream.services) {
      const service = CONTRACTS.get(serviceName);
      if (!service) {
        problems.push(`${name}: ${serviceName} is not one of the shop's contracts`);
        continue;
      }
      for (const method of service.methods) {
        const where = `upstreams.${name} ${method.name}`;
        const policy = resolveMethodPolicy(config.defaults, upstream, serviceName, method.name);
        const perTry = policy.retry.perTryTimeoutMs;
        if (method.idempotency === Level.NO_SIDE_EFFECTS) {
          if (!policy.hedging) problems.push(`${where}: a read without hedging`);
          else if (policy.hedging.maxAttempts < 2) problems.push(`${where}: hedging with one attempt`);
          if (perTry <= 0 || perTry > READ_DEADLINE_MS / 2)
            problems.push(`${where}: a read needs retry.perTryTimeoutMs in 1-${READ_DEADLINE_MS / 2}, has ${perTry}`);
        } else {
          const own = upstream.methods[method.name] ?? upstream.methods[`${serviceName}/${method.name}`];
          if (own?.hedging) problems.push(`${where}: hedging on a method with side effects`);
          if (method.idempotency !== Level.IDEMPOTENT) {
            if (perTry > 0) problems.push(`${where}: a method with side effects cut short by retry.perTryTimeoutMs`);
          } else if (!EXTERNAL_UPSTREAMS.has(name) && perTry < WRITE_MIN_PER_TRY_MS) {
            problems.push(
              `${where}: an IDEMPOTENT write needs retry.perTryTimeoutMs of at least ${WRITE_MIN_PER_TRY_MS}, has ${perTry}`,
            );
          }
        }
      }
    }
  }
  return problems;
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
  expect(tailLatencyProblems(config), service).toEqual([]);
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

  it("runs every instance of the shop as an app from its build, with a sidecar in its network namespace", () => {
    const expected = SHOP.flatMap((plan) =>
      plan.instances > 1
        ? Array.from({ length: plan.instances }, (_, i) => [`${plan.service}-${i + 1}`, plan.service] as const)
        : [[plan.service, plan.service] as const],
    );
    for (const [name, service] of expected) {
      expect(compose.services[name]?.command).toEqual(appCommand(service));
      expect(compose.services[`${name}-sidecar`]?.network_mode).toBe(`service:${name}`);
    }
    for (const infra of ["consul", ...NATS_NODES, "postgres"]) expect(compose.services[infra]).toBeDefined();
    for (const service of Object.values(compose.services)) expect(service.image).toBeDefined();
  });

  it("runs NATS as a three-node JetStream cluster, each node named, routed to all, on a volume of its own", () => {
    const routes = `--routes=${NATS_NODES.map((node) => `nats://${node}:6222`).join(",")}`;
    for (const node of NATS_NODES) {
      const nats = compose.services[node] as ComposeService;
      expect(nats.image, node).toMatch(/^nats:2\.10/);
      expect(nats.command, node).toEqual(
        expect.arrayContaining([
          `--name=${node}`,
          "-js",
          "--cluster_name=shop",
          "--cluster=nats://0.0.0.0:6222",
          routes,
        ]),
      );
      expect(nats.volumes, node).toEqual([`${node}-data:/data`]);
    }
    const app = compose.services.order as ComposeService;
    expect(app.environment?.NATS_URL?.split(",")).toEqual(NATS_NODES.map((node) => `nats://${node}:4222`));
    for (const node of NATS_NODES) expect(app.depends_on?.[node]).toBeDefined();
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

  it("hedges every read and bounds its attempts, as the local mesh does; writes keep their deadline", () => {
    for (const plan of SHOP) {
      const raw = parse(readFileSync(join(here, "compose/sidecars", `${plan.service}.yaml`), "utf8")) as {
        upstreams?: Record<string, { services: string[] }>;
      };
      for (const callee of plan.calls) {
        const { services, ...policy } = raw.upstreams?.[callee] ?? { services: [] };
        expect(services, `${plan.service} -> ${callee}`).toEqual(servesOf(callee));
        expect(policy, `${plan.service} -> ${callee}`).toEqual(shopUpstreamPolicy(callee));
      }
    }
  });

  it("fails a sidecar config whose reads are not hedged or not bounded per try, or whose writes are hedged or cut short", () => {
    const text = readFileSync(join(here, "compose/sidecars/gateway.yaml"), "utf8");
    const raw = parse(text) as { upstreams: Record<string, Record<string, unknown>> };
    const without = (change: (upstreams: Record<string, Record<string, unknown>>) => void) => {
      const copy = structuredClone(raw);
      change(copy.upstreams);
      return tailLatencyProblems(parseConfig(copy));
    };
    expect(tailLatencyProblems(parseConfig(raw))).toEqual([]);
    expect(
      without((upstreams) => {
        delete upstreams.inventory?.hedging;
      }),
    ).toEqual(
      ["ListProducts", "GetStock", "GetReservation"].map(
        (read) => `upstreams.inventory ${read}: a read without hedging`,
      ),
    );
    expect(
      without((upstreams) => {
        delete upstreams.order?.methods;
      }),
    ).toEqual(
      ["GetOrder", "ListOrders", "ListStuckOrders"].map(
        (read) => `upstreams.order ${read}: a read needs retry.perTryTimeoutMs in 1-500, has 1000`,
      ),
    );
    expect(
      without((upstreams) => {
        (upstreams.order as { retry?: unknown }).retry = { perTryTimeoutMs: 300 };
      }),
    ).toEqual(
      ["CreateOrder", "CancelOrder"].map(
        (write) =>
          `upstreams.order ${write}: an IDEMPOTENT write needs retry.perTryTimeoutMs of at least 1000, has 300`,
      ),
    );
    expect(
      without((upstreams) => {
        delete (upstreams.payment as { retry?: unknown }).retry;
      }),
    ).toEqual(
      ["TokenizeCard", "Refund"].map(
        (write) =>
          `upstreams.payment ${write}: an IDEMPOTENT write needs retry.perTryTimeoutMs of at least 1000, has 0`,
      ),
    );
    expect(
      without((upstreams) => {
        (upstreams.payment?.methods as Record<string, unknown>).TokenizeCard = {
          hedging: { delayMs: 50, maxAttempts: 2 },
        };
      }),
    ).toEqual(["upstreams.payment TokenizeCard: hedging on a method with side effects"]);
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

  it("runs Jaeger with OTLP over HTTP and its UI published, and Prometheus with its config", () => {
    const jaeger = compose.services.jaeger;
    // Jaeger v2 (v1 reached its end of life in 2025), whose default configuration is the all-in-one with OTLP on.
    expect(jaeger?.image).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/);
    expect(jaeger?.ports).toContain("16686:16686");
    const prometheus = compose.services.prometheus;
    expect(prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prometheus?.volumes).toContain("./prometheus.yml:/etc/prometheus/prometheus.yml:ro");
    expect(prometheus?.ports).toContain("9090:9090");
  });

  it("has Prometheus scrape every sidecar's /metrics on its health listener, at its app's address", () => {
    const targets = scrapedTargets(parse(readFileSync(join(here, "compose/prometheus.yml"), "utf8")));
    const sidecars = Object.entries(compose.services).filter(([name]) => name.endsWith("-sidecar"));
    expect(sidecars.length).toBeGreaterThan(0);
    for (const [name, sidecar] of sidecars) {
      // It shares the app's network namespace, so it answers at the app's name.
      const app = sidecar.network_mode?.replace(/^service:/, "");
      expect(targets, name).toContain(`${app}:${HEALTH_PORT}/metrics`);
    }
  });

  it("exports every app's and sidecar's traces to Jaeger", () => {
    const processes = Object.entries(compose.services).filter(([, service]) =>
      /services\/\w+\/dist\/main\.mjs|sidecar\/bin\/mesh-sidecar\.js/.test(service.command?.join(" ") ?? ""),
    );
    expect(processes).toHaveLength(2 * SHOP.reduce((sum, plan) => sum + plan.instances, 0));
    for (const [name, service] of processes) {
      expect(service.environment, name).toMatchObject(OTEL);
      expect(service.depends_on?.jaeger, name).toBeDefined();
    }
  });
});

describe("Dockerfile", () => {
  const stages = readFileSync(join(here, "../Dockerfile"), "utf8")
    .split(/^FROM /m)
    .slice(1);
  const [build, runtime] = [stages[0] ?? "", stages.at(-1) ?? ""];

  it("builds the bundles with the development tools, and runs them with production dependencies only", () => {
    expect(stages.length).toBeGreaterThan(1);
    // A plain npm ci installs esbuild and runs `prepare`, the build.
    expect(build).toMatch(/npm ci(?! [^\n]*--omit=dev)/);
    expect(runtime).toMatch(/npm ci [^\n]*--omit=dev/);
    for (const dist of ["sidecar/dist", ...SHOP.map((plan) => `services/${plan.service}/dist`)]) {
      expect(runtime, dist).toMatch(new RegExp(`^COPY --from=\\S+ [^\\n]*/app/${dist} ${dist}$`, "m"));
    }
  });
});

describe("deploy/k8s", () => {
  it("is what the generator writes today", async () => {
    await expect(
      promisify(execFile)(process.execPath, ["--import", "tsx", join(here, "k8s/generate.ts"), "--check"]),
    ).resolves.toBeDefined();
  });

  const documents = parseAllDocuments(readFileSync(join(here, "k8s/shop.yaml"), "utf8")).map((document) =>
    document.toJS(),
  );
  const byKind = (kind: string) => documents.filter((document) => document.kind === kind);
  const named = (kind: string, name: string) => byKind(kind).find((document) => document.metadata.name === name);
  const shopNames = SHOP.map((plan) => plan.service);
  const shopDeployments = () =>
    byKind("Deployment").filter((deployment) => shopNames.includes(deployment.metadata.name));

  it("gives every pod the app and its sidecar, probes on the sidecar, and a valid sidecar config", () => {
    expect(
      byKind("Deployment")
        .map((deployment) => deployment.metadata.name)
        .sort(),
    ).toEqual([...shopNames, "jaeger", "prometheus"].sort());
    for (const deployment of shopDeployments()) {
      const [app, sidecar] = deployment.spec.template.spec.containers;
      expect([app.name, sidecar.name]).toEqual(["app", "sidecar"]);
      expect(app.command).toEqual(appCommand(deployment.metadata.name));
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
    expect(byKind("Service")).toHaveLength(SHOP.length + 3); // and jaeger, prometheus, nats
  });

  it("runs NATS as a three-node JetStream StatefulSet behind a headless Service, routed to every node", () => {
    const statefulSet = named("StatefulSet", "nats");
    expect(statefulSet.spec.replicas).toBe(3);
    expect(statefulSet.spec.serviceName).toBe("nats");
    const service = named("Service", "nats");
    expect(service.spec.clusterIP).toBe("None");
    expect(service.spec.ports.map((port: { port: number }) => port.port)).toEqual([4222, 6222, 8222]);
    const [container] = statefulSet.spec.template.spec.containers;
    expect(container.env).toContainEqual({
      name: "SERVER_NAME",
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
    const config = named("ConfigMap", "nats-config").data["nats.conf"] as string;
    expect(config).toMatch(/^server_name: \$SERVER_NAME$/m);
    expect(config).toMatch(/jetstream \{\s+store_dir: \/data\s+\}/);
    for (const node of ["nats-0", "nats-1", "nats-2"]) expect(config).toContain(`nats://${node}.nats:6222`);
    const natsUrl = named("ConfigMap", "mesh-infra").data.natsUrl as string;
    expect(natsUrl.split(",")).toEqual(["nats-0", "nats-1", "nats-2"].map((node) => `nats://${node}.nats:4222`));
  });

  it("runs Jaeger, taking OTLP over HTTP and serving its UI, behind a Service", () => {
    const [container] = named("Deployment", "jaeger").spec.template.spec.containers;
    expect(container.image).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/);
    const ports = container.ports.map((port: { containerPort: number }) => port.containerPort);
    expect(ports).toEqual(expect.arrayContaining([4318, 16686]));
    const servicePorts = named("Service", "jaeger").spec.ports.map((port: { port: number }) => port.port);
    expect(servicePorts).toEqual(expect.arrayContaining([4318, 16686]));
  });

  it("gives every app and sidecar the OTLP endpoint and sampler", () => {
    expect(OTEL.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://jaeger:4318"); // the Service above
    const deployments = shopDeployments();
    expect(deployments).toHaveLength(SHOP.length);
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        const env = Object.fromEntries(
          container.env.map((variable: { name: string; value?: string }) => [variable.name, variable.value]),
        );
        expect(env, `${deployment.metadata.name}/${container.name}`).toMatchObject(OTEL);
      }
    }
  });

  it("runs Prometheus with pod discovery, the RBAC it needs, and every shop pod annotated to scrape its sidecar", () => {
    const spec = named("Deployment", "prometheus").spec.template.spec;
    const account = spec.serviceAccountName;
    expect(named("ServiceAccount", account)).toBeDefined();
    const binding = [...byKind("ClusterRoleBinding"), ...byKind("RoleBinding")].find((each) =>
      each.subjects.some(
        (subject: { kind: string; name: string }) => subject.kind === "ServiceAccount" && subject.name === account,
      ),
    );
    expect(binding?.roleRef.kind).toBe("ClusterRole");
    const rules = named("ClusterRole", binding.roleRef.name).rules;
    expect(rules).toContainEqual(
      expect.objectContaining({
        resources: expect.arrayContaining(["pods"]),
        verbs: expect.arrayContaining(["get", "list", "watch"]),
      }),
    );
    expect(named("Service", "prometheus").spec.ports[0].port).toBe(9090);

    const configMap = spec.volumes.find((volume: { configMap?: unknown }) => volume.configMap).configMap.name;
    const config = parse(named("ConfigMap", configMap).data["prometheus.yml"]) as { scrape_configs: ScrapeJob[] };
    const job = config.scrape_configs.find((each) => each.kubernetes_sd_configs?.some((sd) => sd.role === "pod"));
    const sources = (job?.relabel_configs ?? []).flatMap((rule) => rule.source_labels ?? []);
    for (const annotation of ["scrape", "port", "path"])
      expect(sources).toContain(`__meta_kubernetes_pod_annotation_prometheus_io_${annotation}`);
    expect(job?.relabel_configs).toContainEqual(
      expect.objectContaining({
        source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        regex: "true",
        action: "keep",
      }),
    );

    for (const deployment of shopDeployments()) {
      const template = deployment.spec.template;
      const sidecar = template.spec.containers.find((container: { name: string }) => container.name === "sidecar");
      expect(sidecar.ports, deployment.metadata.name).toContainEqual({ name: "health", containerPort: HEALTH_PORT });
      expect(template.metadata.annotations, deployment.metadata.name).toEqual({
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(HEALTH_PORT),
        "prometheus.io/path": "/metrics",
      });
    }
  });

  it("has a Job that writes deny-by-default intentions and the shop's call graph", () => {
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
