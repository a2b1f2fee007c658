#!/usr/bin/env node
// Runs the TypeScript sources through tsx, like the mesh CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
