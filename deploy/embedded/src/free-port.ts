import { createServer } from "node:net";

/** Ports this process handed out already: the OS may offer a closed one again before its new owner binds it. */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, for servers that cannot pick their own (PostgreSQL). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
