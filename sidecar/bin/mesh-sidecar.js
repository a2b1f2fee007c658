#!/usr/bin/env -S node --max-semi-space-size=4
// The sidecar runs from its bundle (sidecar/dist, built by `npm install`/`npm ci` and by `npm test`): no TypeScript
// loader in production, so a process starts faster and stays smaller.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/mesh-sidecar.mjs", import.meta.url);
if (!existsSync(bundle)) {
  console.error("mesh-sidecar: sidecar/dist/mesh-sidecar.mjs is missing; build it with: npm run build");
  process.exit(1);
}
await import(bundle.href);
