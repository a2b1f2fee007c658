import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { terminate } from "@mesh/embedded";

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines it wrote, for error messages. */
  lastLines(): string[];
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a process whose output lines are written with its name in front, so interleaved logs stay readable. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
): ManagedProcess {
  // A process group of its own: Ctrl-C reaches only the mesh runner, which then stops each process in order.
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const prefix = `[${name}] `;
  const recent: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      write(prefix + line);
    });
  }
  child.on("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM" && signal !== "SIGKILL")
      write(`${prefix}exited (${signal ?? `code ${code}`})`);
  });
  return {
    name,
    child,
    lastLines: () => [...recent],
    stop: (graceMs = 10_000) => terminate(child, graceMs),
  };
}
