#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), as every package of this repository does.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
