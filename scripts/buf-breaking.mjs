// Checks the contracts for breaking changes against main (FILE rules, vendored protos skipped; see buf.yaml).
// Needs main's history: skipped with a note when main is absent (a shallow clone of another branch).
import { execFileSync } from "node:child_process";

function hasMain() {
  try {
    execFileSync("git", ["rev-parse", "--verify", "--quiet", "refs/heads/main"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

if (!hasMain()) {
  console.warn("buf breaking: no local main branch to compare with; skipped");
} else {
  execFileSync("npx", ["buf", "breaking", "--against", ".git#branch=main"], { stdio: "inherit" });
}
