import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Ports this process handed out already: the OS may offer a closed one again before its new owner binds it. */
const handedOut = new Set<number>();

/**
 * Where to look for a port: below the range the OS gives outgoing connections their local ports from, so that no
 * client socket (a test's many connections, say) takes a port between the moment it is found free and the moment its
 * server binds it. Undefined where the range is unknown (not Linux): then the OS picks.
 */
function belowEphemeralRange(): { low: number; high: number } | undefined {
  try {
    const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const high = Number(ephemeralLow) - 1;
    return high > 20_000 ? { low: 10_000, high } : undefined;
  } catch {
    return undefined;
  }
}

const searchRange = belowEphemeralRange();

/** A TCP port on 127.0.0.1 that was free a moment ago, for servers that cannot pick their own (PostgreSQL). */
export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const candidate =
      searchRange && tries < 50
        ? searchRange.low + Math.floor(Math.random() * (searchRange.high - searchRange.low))
        : 0;
    const port = await bindable(candidate);
    if (port === undefined || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** The port (0: one the OS picks) if a server can listen on it now, else undefined. */
function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}
