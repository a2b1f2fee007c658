// Fails when the committed generated code differs from a fresh `buf generate`: contracts and code must not drift.
import { execFileSync } from "node:child_process";

const run = (command, args) => execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

run("npx", ["buf", "generate"]);
const drift = run("git", ["status", "--porcelain", "--untracked-files=all", "--", "proto/gen"]).trim();
if (drift) {
  console.error(
    `proto/gen differs from a fresh \`buf generate\`; run \`npm run proto:generate\` and commit:\n${drift}`,
  );
  process.exit(1);
}
