// Brings a fresh Debian machine to what the tests and the local mesh need, and does nothing when all is there:
// system packages through apt (when missing), then `npm ci` (when package-lock.json changed since the last one),
// then the sidecar bundle (always: it takes a fraction of a second and must match the sources).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";

const PYTHON = "/usr/bin/python3";

/** Each system package with a probe that tells whether what we use from it is present. */
const SYSTEM_PACKAGES = [
  { name: "nats-server", present: () => onPath("nats-server") },
  { name: "python3-grpcio", present: () => pythonImports("grpc") },
  { name: "python3-grpc-tools", present: () => pythonImports("grpc_tools") },
  { name: "python3-hyperframe", present: () => pythonImports("hyperframe") },
  { name: "python3-hpack", present: () => pythonImports("hpack") },
  // A real browser for the checks of the pages we serve (consul-dev's status page, the mesh dashboard).
  { name: "chromium", present: () => onPath("chromium") },
];

/** What the benchmarks need on top (`--bench`): the peer proxy and the HTTP/2 load generator. */
const BENCH_PACKAGES = [
  { name: "nginx-light", present: () => onPath("nginx") },
  { name: "nghttp2-client", present: () => onPath("h2load") },
];

function onPath(command) {
  const dirs = `${process.env.PATH ?? ""}:/usr/sbin:/usr/local/sbin`.split(":").filter(Boolean);
  return dirs.some((dir) => existsSync(`${dir}/${command}`));
}

function pythonImports(module) {
  return existsSync(PYTHON) && spawnSync(PYTHON, ["-c", `import ${module}`], { stdio: "ignore" }).status === 0;
}

function installSystemPackages() {
  const wanted = [...SYSTEM_PACKAGES, ...(process.argv.includes("--bench") ? BENCH_PACKAGES : [])];
  const missing = wanted.filter((pkg) => !pkg.present()).map((pkg) => pkg.name);
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (userInfo().uid !== 0 || !onPath("apt-get")) {
    console.error(`missing system packages: ${missing.join(", ")}; install them with: sudo ${command}`);
    process.exit(1);
  }
  console.error(`setup: installing ${missing.join(", ")} with apt`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", command.split(" ").slice(1), { stdio: "inherit", env }).status === 0;
  if (!install()) {
    execFileSync("apt-get", ["update"], { stdio: "inherit", env });
    if (!install()) process.exit(1);
  }
}

function installNodeModules() {
  const lockHash = createHash("sha256").update(readFileSync("package-lock.json")).digest("hex");
  const marker = "node_modules/.setup-lock-hash";
  if (existsSync(marker) && readFileSync(marker, "utf8") === lockHash) return;
  console.error("setup: npm ci");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  writeFileSync(marker, lockHash);
}

function buildBundles() {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}

installSystemPackages();
installNodeModules();
buildBundles();
