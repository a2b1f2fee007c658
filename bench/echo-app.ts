// The benchmark's app: the echo test service on a given port (argv[2]), until SIGTERM.
import { startEchoServer } from "@mesh/kit/testing";

const server = await startEchoServer("bench", { port: Number(process.argv[2] ?? 0) });
process.stdout.write(`${server.address}\n`);
process.once("SIGTERM", () => {
  server.shutdown(500).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
