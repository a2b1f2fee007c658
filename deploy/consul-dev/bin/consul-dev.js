#!/usr/bin/env node
// Runs the TypeScript sources through tsx: consul-dev is a development tool, so start-up cost does not matter here.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
