import { once } from "node:events";
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * An OTLP/HTTP endpoint that accepts every export and keeps only counts, so a traced row's figures are the
 * sidecar's cost of tracing (spans, batching, protobuf encoding, sending) and not a collector's.
 */
export async function startOtlpSink(spanName: string) {
  const needle = Buffer.from(spanName);
  const counts = { requests: 0, bytes: 0, spans: 0 };
  let lastExportAt = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      counts.requests++;
      lastExportAt = performance.now();
      counts.bytes += body.length;
      // Every span of the echo path is named for the method (attempt spans too): one occurrence per span.
      for (let at = body.indexOf(needle); at !== -1; at = body.indexOf(needle, at + needle.length)) counts.spans++;
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    counts,
    /** Resolves once no export has come for `ms`: the traced sidecars' queues are empty, so their exporting no
     * longer competes with the next row for the CPUs. */
    async quiet(ms: number) {
      while (performance.now() - lastExportAt < ms) await sleep(100);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
