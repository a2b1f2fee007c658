// What the benchmark scripts need to know about the processes they start.
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { splitAddress } from "../sidecar/src/config/address.ts";

/** Resolves once something accepts connections at `host:port` (10 s at most). */
export async function waitForPort(address: string): Promise<void> {
  const { host, port } = splitAddress(address);
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, host, () => {
        socket.destroy();
        done(true);
      });
      socket.on("error", () => done(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${address}`);
}

/** A process's resident memory in MiB, from /proc. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}
