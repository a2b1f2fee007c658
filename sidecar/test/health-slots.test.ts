import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@mesh/proto/grpc/health/v1/health_pb";
import { describe, expect, it } from "vitest";
import type { InboundLimitState } from "../src/admin/metrics.ts";
import { HEALTH_WATCH_LIMIT } from "../src/inbound/inbound-listener.ts";
import { INBOUND_CLUSTER } from "../src/sidecar.ts";
import { adminJson, type EchoServer, echoClient, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

const LIMIT = 4;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  sidecar = await mesh.sidecar({
    inbound: { listen: "127.0.0.1:0", app: app.address, maxConcurrent: LIMIT, maxQueue: 0 },
  });
});

/** Each open watch's controller: aborting it ends the stream. */
const watches: AbortController[] = [];

/** Opens a Health/Watch stream through the sidecar and waits for its first answer. */
async function openWatch(): Promise<HealthCheckResponse_ServingStatus> {
  const abort = new AbortController();
  watches.push(abort);
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${sidecar.inbound}` }));
  const responses = health.watch({}, { signal: abort.signal })[Symbol.asyncIterator]();
  const first = await responses.next();
  return (first.value as { status: HealthCheckResponse_ServingStatus }).status;
}

describe("health checks at the inbound listener", () => {
  it("hold no slot of the app's concurrency limit, and are bounded on their own", async () => {
    try {
      // Twice the app's limit in Watch streams, held open.
      const watching = await Promise.all(Array.from({ length: 2 * LIMIT }, () => openWatch()));
      expect(watching.every((status) => status === HealthCheckResponse_ServingStatus.SERVING)).toBe(true);
      const { [INBOUND_CLUSTER]: state } = await adminJson<Record<string, InboundLimitState>>(sidecar, "/clusters");
      expect(state?.inFlight).toBe(0);

      // The app's calls still get all its slots.
      const echo = echoClient(sidecar.inbound);
      const calls = await Promise.allSettled(Array.from({ length: LIMIT }, () => echo.echo({ delayMs: 50 })));
      expect(calls.map((call) => call.status)).toEqual(Array(LIMIT).fill("fulfilled"));

      // Watches beyond their own bound are refused, saying why; a Check still answers.
      await Promise.all(Array.from({ length: HEALTH_WATCH_LIMIT - 2 * LIMIT }, () => openWatch()));
      const refused = await openWatch().then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
      expect(refused?.code).toBe(Code.ResourceExhausted);
      expect(refused?.rawMessage).toBe(
        `too many health checks at once: at most ${HEALTH_WATCH_LIMIT} health Watch streams open (health checks have slots of their own, apart from the app's concurrency limit)`,
      );
      const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${sidecar.inbound}` }));
      expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect((await echo.echo({ message: "still served" })).message).toBe("still served");
    } finally {
      for (const watch of watches) watch.abort();
    }
  });
});
