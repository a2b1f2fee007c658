// The echo test service as a process of its own (benchmarks, failover tests): port argv[2], name argv[3], until SIGTERM.
import { startEchoServer } from "./echo-server.ts";

const server = await startEchoServer(process.argv[3] ?? "echo", { port: Number(process.argv[2] ?? 0) });
process.stdout.write(`${server.address}\n`);
process.once("SIGTERM", () => {
  server.shutdown(500).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
