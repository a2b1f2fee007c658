// The dashboard as a process of its own:
//
//   mesh-dashboard [--port 16686] [--host 127.0.0.1] [--consul 127.0.0.1:8500] ...   (--help lists every option)
//
// Prints its URL once listening; SIGINT/SIGTERM stop it cleanly. Bad options: one line per problem, exit code 2.
import { startDashboard } from "./dashboard.ts";
import { OptionsError, parseOptions, usage } from "./options.ts";

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(usage());
  process.exit(0);
}
let dashboard: Awaited<ReturnType<typeof startDashboard>>;
try {
  dashboard = await startDashboard(parseOptions(argv, process.env));
} catch (error) {
  console.error(error instanceof OptionsError ? error.message : `mesh-dashboard: ${(error as Error).message}`);
  process.exit(error instanceof OptionsError ? 2 : 1);
}
process.stdout.write(
  `mesh dashboard at ${dashboard.url}  (OTLP/HTTP: OTEL_EXPORTER_OTLP_ENDPOINT=${dashboard.otlpEndpoint})\n`,
);
const shutdown = () => {
  dashboard.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
